"""Which agency serves a call, and how an agency is brought into it (dispatch and overflow)."""
