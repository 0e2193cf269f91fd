"""Presence on the desktop: was the user active at the computer, and which program had the focus."""
