"""The multilingual encoder (issue 21): loaded from its package with nothing downloaded,
normalised rows, and a German, French or Spanish sentence nearer the English one that
means the same than an English one about something else — which MiniLM does not manage."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.multilingual import DIMENSION, MultilingualEmbedder

ENGLISH = "I was charged twice for my subscription this month"
OTHER = "The parcel never arrived at my address"
SAME = {
    "de": "Mir wurde das Abo diesen Monat zweimal abgebucht",
    "fr": "On m'a prélevé deux fois mon abonnement ce mois-ci",
    "es": "Me cobraron dos veces la suscripción este mes",
}


@pytest.fixture(scope="module")
def multilingual() -> MultilingualEmbedder:
    return MultilingualEmbedder()


def test_rows_are_normalised_and_empty_input_is_empty(multilingual: MultilingualEmbedder) -> None:
    vectors = multilingual.encode([ENGLISH, OTHER, *SAME.values()])
    assert vectors.shape == (5, DIMENSION) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert multilingual.encode([]).shape == (0, DIMENSION)
    assert multilingual.model_id.startswith("use-multilingual-v3@")


async def test_it_encodes_off_the_event_loop_the_same(multilingual: MultilingualEmbedder) -> None:
    assert np.allclose(await multilingual.encode_async([ENGLISH]), multilingual.encode([ENGLISH]))


def test_the_same_meaning_across_languages_is_closer_than_another_topic(
    multilingual: MultilingualEmbedder, embedder: SentenceTransformerEmbedder
) -> None:
    def closer(encode: MultilingualEmbedder | SentenceTransformerEmbedder) -> list[bool]:
        english, other = encode.encode([ENGLISH, OTHER])
        return [
            float(v @ english) > float(v @ other) + 0.1 for v in encode.encode(list(SAME.values()))
        ]

    assert closer(multilingual) == [True, True, True]
    assert closer(embedder) != [True, True, True]  # why an English model is not enough
