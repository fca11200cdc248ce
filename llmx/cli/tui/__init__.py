"""The interactive frontend (Textual). Imported only by the commands that start it, so
``exec`` and the short commands never load Textual."""
