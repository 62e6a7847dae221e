"""paperfeed: research papers from arXiv and Hugging Face Papers, delivered to Discord."""

__version__ = "0.1.0"

PROJECT_URL = "https://github.com/paperfeed/paperfeed"
USER_AGENT = f"paperfeed/{__version__} (+{PROJECT_URL})"
