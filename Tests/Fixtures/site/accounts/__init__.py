# App holding the create_session management command (no models of its own).
