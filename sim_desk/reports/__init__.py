"""PDF documents (reportlab). Reads records; never imports Qt."""
