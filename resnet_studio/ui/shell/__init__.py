"""The window that holds the workspaces: menus, tool bar, drops, Help and Export, the app's
start-up, and the studio's figures for `resnet-studio bench`."""
