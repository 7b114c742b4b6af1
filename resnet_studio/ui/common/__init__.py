"""What the rooms of the studio share: the document (the network being edited, with undo), the
training controller (sessions, comparisons, runs on disk), the model that answers, background
jobs, torch loading, icons, the theme, feature-map tiles and the workspace names."""
