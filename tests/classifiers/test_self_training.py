"""The router learning from customers' unlabelled messages (``inbox train``'s history)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.router import DEFAULT_TEMPERATURE, LabelledExample, Router
from classifiers.self_training import (
    HISTORY_FILE,
    TEMPERATURES,
    calibrate,
    load_history,
    pseudo_label,
    save_history,
)
from inbox.config.settings import Settings
from inbox.service.model import learned_history
from inbox.text import embedding_text
from tests.support.cli import config_file, run_inbox
from tests.support.routing import shipped_router
from tests.support.service import Running
from tests.support.store import store_of
from tests.support.waiting import until


def _encode(embedder: SentenceTransformerEmbedder, texts: list[str]) -> np.ndarray:
    return embedder.encode([embedding_text("", t) for t in texts])


def test_only_what_the_router_is_sure_of_is_learnt(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    clear = {
        "I was charged twice for my subscription this month": "billing",
        "Where is my parcel? The order was placed two weeks ago": "orders",
    }
    unclear = ["The mitochondria is the powerhouse of the cell", "hm"]
    texts = [*clear, *unclear]
    learned = pseudo_label(router, texts, _encode(embedder, texts), min_confidence=0.8)
    assert {e.text: e.team for e in learned.examples} == clear
    assert all(e.learned for e in learned.examples)
    assert learned.vectors.shape == (2, embedder.dimension)
    nothing = pseudo_label(router, [], np.zeros((0, 384), np.float32), min_confidence=0.8)
    assert len(nothing) == 0


def test_learnt_examples_teach_but_are_never_shown_as_evidence(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    base = shipped_router(settings, embedder)
    history = ["My card got charged two times for one order, please fix this"]
    vectors = _encode(embedder, history)
    learned = pseudo_label(base, history, vectors, min_confidence=0.5)
    assert [e.team for e in learned.examples] == ["billing"]
    examples, example_vectors = _examples(settings, embedder)
    router = Router(
        examples + learned.examples,
        np.vstack([example_vectors, learned.vectors]),
        threshold=0.5,
        margin=0.0,
        fallback_team="triage",
    )
    assert router.example_counts == (len(examples), 1)
    (decision,) = router.route(vectors)  # the very text it learnt: similarity 1.0
    assert decision.team == "billing"
    assert history[0] not in [n.text for n in decision.nearest]
    assert all(n.score < 0.999 for n in decision.nearest)


def _examples(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> tuple[list[LabelledExample], np.ndarray]:
    examples = [LabelledExample(t.name, text) for t in settings.teams for text in t.examples]
    return examples, embedder.encode([e.text for e in examples])


def test_an_agents_correction_overrules_what_the_router_learnt_near_it(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    # The router once learnt, from history, that carbon-offset questions are "general".
    guessed = [
        "Question about the carbon offset on my flight booking",
        "How does the carbon offset for my flight work?",
        "Tell me about carbon offsetting my flight",
        "Is the carbon offset included in my flight booking?",
    ]
    learnt = [LabelledExample("general", t, learned=True) for t in guessed]
    examples, vectors = _examples(settings, embedder)
    routers = {
        overrule: Router(
            examples + learnt,
            np.vstack([vectors, _encode(embedder, guessed)]),
            threshold=0.0,
            margin=0.0,
            fallback_team="triage",
            overrule_similarity=overrule,
        )
        for overrule in (0.8, 2.0)  # 2.0: similarity never reaches it, nothing overruled
    }
    question = _encode(embedder, ["What about carbon offset on my flight booking?"])
    for router in routers.values():
        assert router.predict(question) == ["general"]
        correction = "Carbon offset question on my flight booking"
        router.add_example(LabelledExample("orders", correction), _encode(embedder, [correction]))
    # The agent said "orders": the guesses close to the correction no longer vote.
    assert routers[0.8].predict(question) == ["orders"]
    assert routers[0.8].example_counts[1] < len(guessed)
    # Without the overrule, the old guesses outvote the agent (why the overrule exists).
    assert routers[2.0].predict(question) == ["general"]
    assert routers[2.0].example_counts == (len(examples) + 1, len(guessed))


def test_history_is_saved_beside_its_model_and_only_used_with_it(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    texts = [
        "I was charged twice for my subscription this month",
        "My parcel has not arrived and it has been ten days",
    ]
    examples, vectors = _examples(settings, embedder)
    guessed = pseudo_label(
        shipped_router(settings, embedder), texts, _encode(embedder, texts), min_confidence=0.5
    )
    assert [e.team for e in guessed.examples] == ["billing", "orders"]
    # Two learnt examples against 50 labelled ones: too few to move the temperature.
    assert calibrate(guessed, examples, vectors).temperature == DEFAULT_TEMPERATURE
    # Outnumbering the labelled examples (here one per team), they choose it.
    one_each = [
        examples.index(next(e for e in examples if e.team == t)) for t in ("billing", "orders")
    ]
    few = [examples[i] for i in one_each]
    learned = calibrate(guessed, few, vectors[one_each])
    assert learned.temperature in TEMPERATURES and learned.examples == guessed.examples
    # The choice is the likeliest for the labelled examples, of all it could have made.
    learnt_only = Router(learned.examples, learned.vectors, threshold=0, margin=0, fallback_team="")

    def likelihood(temperature: float) -> float:
        learnt_only.temperature = temperature
        probs = learnt_only.probabilities(vectors[one_each])
        return float(
            np.prod([probs[i, learnt_only.teams.index(e.team)] for i, e in enumerate(few)])
        )

    assert likelihood(learned.temperature) == max(likelihood(t) for t in TEMPERATURES)
    folder = settings.data_dir / "model"
    folder.mkdir(parents=True)
    save_history(folder, learned)
    loaded = load_history(folder)
    assert loaded is not None and loaded.temperature == learned.temperature
    assert loaded.examples == learned.examples and np.array_equal(loaded.vectors, learned.vectors)
    assert len(loaded.for_teams({"accounts"})) == 0 and len(loaded.for_teams({"billing"})) == 1
    assert loaded.for_teams({"billing"}).temperature == learned.temperature
    assert load_history(settings.data_dir) is None
    # A training report makes the folder the service's model, but the embedder given is
    # the bundled model: its vectors and these never mix.
    (folder / "inbox-training.json").write_text(
        json.dumps(
            {
                "base_model": "",
                "examples": 1,
                "labels": 1,
                "steps": 1,
                "seconds": 0.0,
                "final_loss": 0.0,
                "settings": {},
                "trained_at": 0.0,
            }
        )
    )
    assert learned_history(settings, embedder) is None


async def test_train_learns_from_the_stores_unlabelled_messages(
    running: Running, tmp_path: Path
) -> None:
    clear = [
        "I was charged twice for my subscription this month",
        "My parcel has not arrived and it has been ten days",
        "I forgot my password and cannot log in to my account",
    ]
    nonsense = "The mitochondria is the powerhouse of the cell"
    for i, text in enumerate([*clear, nonsense]):
        await running.submit(email=f"c{i}@example.com", message=text)
    store = store_of(running.service.settings)
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 4)
    config = config_file(tmp_path)
    trained = await asyncio.to_thread(run_inbox, "train", "--epochs", "1", config=config)
    assert trained.returncode == 0, trained.stderr
    assert "of 4 unlabelled messages from the history" in trained.stdout
    history = load_history(tmp_path / "var" / "model")
    assert history is not None and (tmp_path / "var" / "model" / HISTORY_FILE).is_file()
    learnt = {e.text: e.team for e in history.examples}
    assert nonsense not in learnt and learnt  # the nonsense is nobody's example
    assert all(text in clear for text in learnt)
    teams = {clear[0]: "billing", clear[1]: "orders", clear[2]: "accounts"}
    assert all(teams[text] == team for text, team in learnt.items())
    assert f"learnt {len(learnt)} of 4" in trained.stdout
    # The router the service and `inbox route` build has them, and never shows them.
    some = next(iter(learnt))
    routed = await asyncio.to_thread(run_inbox, "route", "--json", some, config=config)
    assert routed.returncode == 0, routed.stderr
    answer = json.loads(routed.stdout)
    assert answer["examples"]["learnt"] == len(learnt)
    assert some not in [n["text"] for n in answer["nearest"]]
