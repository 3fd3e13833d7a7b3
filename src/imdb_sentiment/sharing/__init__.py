"""Share a trained model the Hugging Face way: push it to a Hub model repo with its card, and its
app to a Gradio Space (``imdb-sentiment push``; ``train --push-to-hub``).

    from imdb_sentiment.sharing import push
    push("saved_model", "me/imdb-sentiment", space_id="me/imdb-sentiment-demo")
"""

from .hub import PushResult, push

__all__ = ["PushResult", "push"]
