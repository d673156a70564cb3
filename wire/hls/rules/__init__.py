"""Validation rules for HLS media playlists, one small function per rule, registered by name."""
