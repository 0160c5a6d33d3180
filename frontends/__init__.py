"""Front ends that reach participants outside the services' own web pages (the chat bot)."""
