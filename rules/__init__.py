"""The rules language: schema of a rules file, loader, and the pure engine. See docs in DESIGN.md."""
