"""HTTP plumbing the API and the dashboard share: request dependencies, who is asking, body
limits. Both import it; neither imports the other."""
