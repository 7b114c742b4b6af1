"""What the rooms of the studio share: the document (the network being edited, with undo), the
training controller (sessions, comparisons, runs on disk), the model that answers, background
jobs, torch loading, icons, the theme, feature-map tiles, images as points in a plane (and the
work behind the embeddings) and the workspace names."""
