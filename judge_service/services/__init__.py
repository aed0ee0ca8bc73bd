"""What the API and the dashboard both do with the data: each route and page is a thin caller
of these functions, so a page never shows a number the API would not return."""
