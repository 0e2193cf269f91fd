"""One module per dashboard page; ``hub.web.pages`` lists them in navigation order."""
