"""Session memory: persistence, ownership, PII redaction, windowing and summaries."""

from __future__ import annotations

import sqlite3
import threading

from assistant.conversation.memory import SessionStore, Turn, summarise


def test_new_session_ids_are_unguessable_and_unique(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    ids = {store.open(None, None).id for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 22 for i in ids)


def test_unknown_id_starts_new_session(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    session = store.open("made-up-id", None)
    assert session.is_new and session.id != "made-up-id"


def test_history_and_state_survive_restart(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    s = store.open(None, "C001")
    store.append(s, "user", "show me tents", "product_search")
    store.append(s, "assistant", "Here are tents", "product_search")
    s.state["last_products"] = ["TH-TENT-001", "TH-TENT-002"]
    store.save_state(s)
    store.close()
    again = SessionStore(tmp_path / "s.db").open(s.id, "C001")
    assert not again.is_new and again.last_products == ["TH-TENT-001", "TH-TENT-002"]
    assert [t.content for t in SessionStore(tmp_path / "s.db").history(s.id)] == ["show me tents", "Here are tents"]


def test_other_customers_session_is_not_resumed(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    mine = store.open(None, "C001")
    store.append(mine, "user", "where is SB-10001", "order_status")
    theirs = store.open(mine.id, "C002")
    assert theirs.is_new and theirs.id != mine.id and store.history(theirs.id) == []
    anonymous = store.open(mine.id, None)
    assert anonymous.is_new


def test_anonymous_session_continues_after_sign_in(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    s = store.open(None, None)
    assert store.open(s.id, "C001").id == s.id
    assert store.open(s.id, "C002").id != s.id  # now bound to C001


def test_stored_transcript_is_redacted(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    s = store.open(None, None)
    store.append(s, "user", "I'm jane.doe@example.com, call +1 (802) 555-0199, card 4111 1111 1111 1111, 12 Oak Street")
    raw = sqlite3.connect(tmp_path / "s.db").execute("SELECT content FROM messages").fetchone()[0]
    for secret in ("jane.doe", "555-0199", "4111", "Oak Street"):
        assert secret not in raw
    assert "[EMAIL]" in raw and "[PHONE]" in raw and "[CARD]" in raw and "[ADDRESS]" in raw


def test_window_and_summary(tmp_path):
    store = SessionStore(tmp_path / "s.db", window=4)
    s = store.open(None, None)
    for i in range(6):
        store.append(s, "user", f"question number {i}. more words", "product_search")
        store.append(s, "assistant", f"answer {i}")
    summary, recent = store.context(s.id)
    assert len(recent) == 4 and recent[-1].content == "answer 5"
    assert "question number 0." in summary and "question number 5" not in summary


def test_summarise_is_extractive():
    text = summarise([Turn("user", "Where is my order? It is late."), Turn("assistant", "It shipped.")])
    assert "Where is my order?" in text and "It shipped" not in text


def test_summary_keeps_a_first_sentence_with_an_abbreviation_whole():
    text = summarise([Turn("user", "Is the tent approx. 2 kg? And the boots?")])
    assert "- Is the tent approx. 2 kg?" in text and "boots" not in text


def _together(n, work):
    """Run `work(i)` for i in range(n) in threads released at once; re-raise the first exception."""
    barrier, errors = threading.Barrier(n), []

    def run(i):
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def test_an_anonymous_session_is_claimed_by_one_customer_only(tmp_path):
    """Two customers presenting the same anonymous session id at once: one continues it, the other starts anew."""
    stores = [SessionStore(tmp_path / "s.db"), SessionStore(tmp_path / "s.db")]  # two API workers
    for _ in range(40):
        s = stores[0].open(None, None)
        resumed = []
        _together(4, lambda i, sid=s.id, out=resumed: out.append(not stores[i % 2].open(sid, f"C{i}").is_new))
        assert resumed.count(True) == 1


def test_concurrent_appends_and_reads_lose_nothing(tmp_path):
    stores = [SessionStore(tmp_path / "s.db"), SessionStore(tmp_path / "s.db")]  # two API workers
    s = stores[0].open(None, "C001")

    def work(i):
        store = stores[i % 2]
        for j in range(40):
            store.append(s, "user", f"message {i}-{j}")
            store.history(s.id)
            store.open(s.id, "C001")

    _together(8, work)
    contents = [t.content for t in stores[1].history(s.id)]
    assert sorted(contents) == sorted(f"message {i}-{j}" for i in range(8) for j in range(40))
