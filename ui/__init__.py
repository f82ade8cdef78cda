"""Chat window (Gradio) over the QA stage."""
