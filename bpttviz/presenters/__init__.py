"""Turn engine objects (sessions, traces) into the plain data the views draw. No Qt here."""
