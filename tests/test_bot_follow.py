"""/follow, /following, /unfollow and the pushes of new releases, on the real bot stack
against the local Bot API server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.follows import Follows, queue_new
from corpus.loader import load_path
from tests.conftest import sample_file
from tests.test_bot import ADMIN, USER, answered, replies, run_bot
from tests.test_bot import runtime as runtime  # noqa: F401 (the fixture)

VACCINE, FLOOD = "47004", "46520"
OTHER, BLOCKED = 9, 11


@pytest.fixture
def following(runtime):  # noqa: F811
    """The bot checks for new releases every second; the test corpus is seven
    releases, too few for the default threshold's scale."""
    for doc_id in (VACCINE, FLOOD):
        runtime.indexer.remove_document(doc_id)  # they arrive during the test
    follow = replace(runtime.settings.following, threshold=1.5, check_seconds=1)
    runtime.settings = replace(runtime.settings, following=follow)
    return runtime


def pushes(server, chat_id):
    """The news the bot sent ``chat_id`` of its own accord."""
    return [text for text in replies(server, chat_id) if text.startswith("🔔")]


def test_following_listing_and_stopping_topics(runtime):  # noqa: F811
    follow = replace(runtime.settings.following, max_topics=2)
    runtime.settings = replace(runtime.settings, following=follow)

    async def scenario(server):
        for n, text in enumerate(["/follow", "/follow ข้าว ราคา", "/follow rice exports",
                                  "/follow a third topic", "/following"], 1):  # fmt: skip
            server.send_text(USER, text)
            await server.wait_for(answered(n, USER))
        listing = server.messages[max(server.messages)]
        keyboard = server.sent("sendMessage", USER)[-1].params["reply_markup"]["inline_keyboard"]
        server.press(OTHER, listing, keyboard[0][0]["callback_data"])  # not theirs
        await server.wait_for(lambda calls: len(server.sent("answerCallbackQuery")) >= 1)
        server.press(USER, listing, keyboard[0][0]["callback_data"])
        await server.wait_for(lambda calls: server.sent("editMessageText"))
        for n, text in enumerate(["/unfollow 5", "/unfollow 1", "/following"], 6):
            server.send_text(USER, text)
            await server.wait_for(answered(n, USER))
        return server

    server = run_bot(runtime, scenario)
    how, rice_th, rice_en, full, listing, bad, stopped, empty = replies(server, USER)
    assert how.startswith("Send /follow and a topic")
    # the reply is in the topic's language
    assert rice_th.startswith("ติดตาม “ข้าว ราคา” แล้ว") and rice_en.startswith("Following “rice")
    assert full.startswith("You already follow 2 topics")
    assert "1. ข้าว ราคา\n2. rice exports" in listing
    (edited,) = server.sent("editMessageText")
    assert "ข้าว ราคา" not in edited.params["text"] and "1. rice exports" in edited.params["text"]
    assert bad.startswith("Usage: /unfollow N") and stopped == "Stopped following “rice exports”."
    assert empty.startswith("You follow no topics")
    assert Follows(runtime.settings.follows_path).of_user(USER) == []


def test_follow_in_reply_to_an_answer_follows_its_question(runtime):  # noqa: F811
    async def scenario(server):
        server.send_text(USER, "who chaired the 6th AMCC?")
        await server.wait_for(answered(1, USER))
        server.send_text(USER, "and the 7th?")
        await server.wait_for(answered(2, USER))
        answer = server.messages[max(server.messages)]
        server.send_text(USER, "/follow", reply_to=answer)
        await server.wait_for(answered(3, USER))
        return server

    server = run_bot(runtime, scenario)
    assert replies(server, USER)[2].startswith("Following “who chaired the 7th AMCC?”")


def test_a_new_release_reaches_the_follower_of_its_topic_and_not_the_other(following):
    rt = following

    async def scenario(server):
        server.blocked.add(BLOCKED)
        for user, topic in ((USER, "AstraZeneca vaccines"), (OTHER, "น้ำท่วม ถนน"),
                            (BLOCKED, "AstraZeneca vaccines")):  # fmt: skip
            server.blocked.discard(user)
            server.send_text(user, f"/follow {topic}")
            await server.wait_for(answered(1, user))
        server.blocked.add(BLOCKED)
        # an admin adds one release in the bot ...
        server.send_document(ADMIN, sample_file(VACCINE).read_bytes(), f"{VACCINE}.txt")
        await server.wait_for(lambda calls: len(pushes(server, USER)) >= 1)
        # ... and `prakat corpus add` another (the same steps, in this process)
        doc = load_path(sample_file(FLOOD))
        queue_new(rt.settings.follows_path, rt.store, [doc.doc_id])
        rt.indexer.add_documents([doc])
        await server.wait_for(lambda calls: len(pushes(server, OTHER)) >= 1)
        await server.wait_for(lambda calls: not Follows(rt.settings.follows_path).pending())
        return server

    server = run_bot(rt, scenario)
    (vaccine,) = pushes(server, USER)
    assert vaccine.startswith("🔔 A new release about “AstraZeneca vaccines”:")
    assert "PM thanks Japan for donating additional AstraZeneca vaccines" in vaccine
    assert 'href="https://www.thaigov.go.th/news/contents/details/47004"' in vaccine
    (flood,) = pushes(server, OTHER)
    assert "น้ำท่วม ถนน" in flood and "กรมทางหลวงชนบท" in flood
    follows = Follows(rt.settings.follows_path)
    assert follows.of_user(BLOCKED) == []  # blocked the bot: unsubscribed
    assert [f.topic for f in follows.of_user(USER)] == ["AstraZeneca vaccines"]


def test_many_releases_at_once_come_as_one_digest(following):
    rt = following
    rt.settings = replace(rt.settings, following=replace(rt.settings.following, digest_after=1))

    async def scenario(server):
        for n, topic in enumerate(("AstraZeneca vaccines", "flooded roads"), 1):
            server.send_text(USER, f"/follow {topic}")
            await server.wait_for(answered(n, USER))
        docs = [load_path(sample_file(i)) for i in (VACCINE, FLOOD)]
        queue_new(rt.settings.follows_path, rt.store, [d.doc_id for d in docs])
        rt.indexer.add_documents(docs)
        await server.wait_for(lambda calls: not Follows(rt.settings.follows_path).pending())
        return server

    server = run_bot(rt, scenario)
    (digest,) = pushes(server, USER)
    assert digest.startswith("🔔 2 new releases about your topics:")
    assert "AstraZeneca" in digest and "กรมทางหลวงชนบท" in digest
