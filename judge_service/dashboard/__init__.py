"""The web dashboard: runs, a run's figures, a pair browser, labelling, the leaderboard."""
