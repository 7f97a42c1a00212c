"""Interface text in Thai and English. The language follows the user's question."""

from __future__ import annotations

from retrieval.text.normalise import is_thai

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "start": (
            "<b>prakat</b> answers questions about Thai government announcements.\n"
            "Ask in Thai or English, for example: <i>who chaired the 6th AMCC?</i>\n"
            "In groups, use /ask followed by your question, or mention me."
        ),
        "help": (
            "<b>How to ask</b>\n"
            "Send a question in Thai or English. I answer with the sentence that answers it, "
            "the passages around it and the release it came from.\n\n"
            "/ask QUESTION - ask (in groups)\n/latest - the newest releases\n"
            "/stats - what the index holds\n"
            "/follow TOPIC - be sent new releases about a topic (or reply /follow to an "
            "answer); /following - your topics; /unfollow N\n"
            '/new - start a new conversation (a question like "and the 7th?" goes on '
            "from the one before)\n"
            "Admins: send a release (.txt, .md, .html, .pdf), /add ADDRESS of a release page, "
            "or reply /add to a text; /fetch new releases; /remove ID; /reindex"
        ),
        "answer": "Answer",
        "sources": "Sources",
        "not_found": (
            "I could not find this in the announcements. "
            "Try rephrasing the question or using other key words."
        ),
        "more": "More results",
        "read_as": "<i>Read as: {question}</i>",
        "new": "A new conversation: the next question stands alone.",
        "full": "Full release",
        "no_more": "There are no more results.",
        "busy": "Please wait a moment: you have asked many questions in the last minute.",
        "error": "Sorry, something went wrong. Please try again.",
        "index_unavailable": (
            "The search index is not available right now; an administrator has been told. "
            "Please try again later."
        ),
        "admin_only": "Sorry, only administrators can change the announcements.",
        "empty_question": "Please send your question as text.",
        "added": "Added {doc_id}: {title} ({date}), {chunks} passages.",
        "replaced": "Updated {doc_id}: {title} ({date}), {chunks} passages.",
        "unchanged": "{doc_id} is already in the corpus, unchanged: {title}.",
        "bad_file": "Could not add this file: {reason}.",
        "too_big": "This file is too large (limit {limit}).",
        "add_how": (
            "Send a release as a file (.txt, .md, .html, .pdf), send /add followed by the "
            "address of a release page, or reply /add to a text message."
        ),
        "bad_address": "Could not add this address: {reason}.",
        "fetch_started": "Fetching new releases from the site; questions keep working meanwhile.",
        "fetch_done": "Fetched {tried} news ids: {added} added, {replaced} updated, "
        "{unchanged} unchanged.",
        "fetch_failed": "The fetch stopped: {reason}. What it found before is kept.",
        "removed": "Removed {doc_id} ({chunks} passages).",
        "remove_how": "Usage: /remove DOC_ID",
        "remove_ask": "Remove {doc_id}: {title}?",
        "confirm_remove": "Remove",
        "not_in_corpus": "There is no document {doc_id}.",
        "reindex_started": "Rebuilding the index; questions keep working meanwhile.",
        "reindex_done": "Index rebuilt: {documents} documents, {chunks} passages, "
        "{embedded} newly embedded, {seconds:.0f} s.",
        "writer_busy": "Another change is running; try again when it has finished.",
        "latest": "Latest releases",
        "stats": "<b>Index</b>\nDocuments: {documents}\nPassages: {chunks}\nModel: {model}\n"
        "Last update: {built_at}",
        "no_index": "The index is not built yet.",
        "generated_by": "Written by {model} from the passages below; check them.",
        "generated_not_found": "The releases below do not say.",
        "follow_how": (
            "Send /follow and a topic, e.g. <code>/follow คณะรัฐมนตรี ข้าว</code> or "
            "<code>/follow rice exports</code>, or reply /follow to one of my answers; "
            "I will send you new releases about it."
        ),
        "followed": "Following “{topic}”: I will send you new releases about it. "
        "/following lists your topics.",
        "follow_full": "You already follow {cap} topics, the most allowed; "
        "stop one with /following.",
        "following": "<b>Your topics</b> (new releases about them are sent to you):",
        "following_none": "You follow no topics. Example: <code>/follow คณะรัฐมนตรี ข้าว</code>",
        "stop": "Stop {n}",
        "unfollow_how": "Usage: /unfollow N, with N a number from /following.",
        "unfollowed": "Stopped following “{topic}”.",
        "no_such_follow": "You no longer follow this topic.",
        "new_release": "🔔 A new release about “{topic}”:",
        "digest": "🔔 {count} new releases about your topics:",
        "digest_more": "…and {count} more: /latest",
    },
    "th": {
        "start": (
            "<b>prakat</b> ตอบคำถามเกี่ยวกับประกาศและข่าวของรัฐบาลไทย\n"
            "ถามเป็นภาษาไทยหรืออังกฤษก็ได้ เช่น <i>ใครเป็นประธานการประชุม AMCC ครั้งที่ 6</i>\n"
            "ในกลุ่ม ใช้ /ask ตามด้วยคำถาม หรือกล่าวถึงบอท"
        ),
        "help": (
            "<b>วิธีถาม</b>\n"
            "ส่งคำถามเป็นภาษาไทยหรืออังกฤษ บอทจะตอบด้วยประโยคที่ตอบคำถาม ข้อความแวดล้อม "
            "และข่าวต้นทาง\n\n"
            "/ask คำถาม - ถาม (ในกลุ่ม)\n/latest - ข่าวล่าสุด\n/stats - ข้อมูลดัชนี\n"
            "/follow หัวข้อ - รับข่าวใหม่เรื่องนั้น (หรือตอบกลับคำตอบด้วย /follow); "
            "/following - หัวข้อที่ติดตาม; /unfollow N\n"
            '/new - เริ่มบทสนทนาใหม่ (คำถามเช่น "แล้วครั้งที่ 7 ล่ะ" ต่อจากคำถามก่อน)\n'
            "ผู้ดูแล: ส่งไฟล์ข่าว (.txt .md .html .pdf) หรือ /add ตามด้วยที่อยู่หน้าข่าว "
            "หรือตอบกลับข้อความด้วย /add; /fetch ดึงข่าวใหม่; /remove ID; /reindex"
        ),
        "answer": "คำตอบ",
        "sources": "แหล่งที่มา",
        "not_found": "ไม่พบเรื่องนี้ในประกาศที่มีอยู่ ลองเรียบเรียงคำถามใหม่หรือใช้คำสำคัญอื่น",
        "more": "ผลลัพธ์เพิ่มเติม",
        "read_as": "<i>เข้าใจว่า: {question}</i>",
        "new": "เริ่มบทสนทนาใหม่แล้ว คำถามถัดไปจะไม่ต่อจากคำถามก่อน",
        "full": "ข่าวฉบับเต็ม",
        "no_more": "ไม่มีผลลัพธ์เพิ่มเติมแล้ว",
        "busy": "กรุณารอสักครู่ คุณถามหลายคำถามในหนึ่งนาทีที่ผ่านมา",
        "error": "ขออภัย เกิดข้อผิดพลาด กรุณาลองใหม่อีกครั้ง",
        "index_unavailable": "ขณะนี้ดัชนีค้นหายังใช้งานไม่ได้ ผู้ดูแลระบบได้รับแจ้งแล้ว กรุณาลองใหม่ภายหลัง",
        "admin_only": "ขออภัย เฉพาะผู้ดูแลเท่านั้นที่แก้ไขประกาศได้",
        "empty_question": "กรุณาพิมพ์คำถามเป็นข้อความ",
        "added": "เพิ่ม {doc_id}: {title} ({date}) แล้ว {chunks} ข้อความ",
        "replaced": "ปรับปรุง {doc_id}: {title} ({date}) แล้ว {chunks} ข้อความ",
        "unchanged": "{doc_id} มีอยู่แล้วและไม่มีการเปลี่ยนแปลง: {title}",
        "bad_file": "เพิ่มไฟล์นี้ไม่ได้: {reason}",
        "too_big": "ไฟล์ใหญ่เกินไป (จำกัด {limit})",
        "add_how": "ส่งไฟล์ข่าว (.txt .md .html .pdf) หรือส่ง /add ตามด้วยที่อยู่หน้าข่าว "
        "หรือตอบกลับข้อความด้วย /add",
        "bad_address": "เพิ่มจากที่อยู่นี้ไม่ได้: {reason}",
        "fetch_started": "กำลังดึงข่าวใหม่จากเว็บไซต์ ระหว่างนี้ยังถามได้ตามปกติ",
        "fetch_done": "ตรวจ {tried} รหัสข่าว: เพิ่ม {added} ปรับปรุง {replaced} ไม่เปลี่ยน {unchanged}",
        "fetch_failed": "การดึงข่าวหยุดลง: {reason} ข่าวที่ได้ก่อนหน้านี้ยังอยู่",
        "removed": "ลบ {doc_id} แล้ว ({chunks} ข้อความ)",
        "remove_how": "วิธีใช้: /remove DOC_ID",
        "remove_ask": "ลบ {doc_id}: {title} ใช่หรือไม่",
        "confirm_remove": "ลบ",
        "not_in_corpus": "ไม่มีเอกสาร {doc_id}",
        "reindex_started": "กำลังสร้างดัชนีใหม่ ระหว่างนี้ยังถามได้ตามปกติ",
        "reindex_done": "สร้างดัชนีใหม่แล้ว: {documents} เอกสาร {chunks} ข้อความ "
        "ฝังใหม่ {embedded} ใช้เวลา {seconds:.0f} วินาที",
        "writer_busy": "มีการแก้ไขอื่นกำลังทำงานอยู่ กรุณาลองใหม่เมื่อเสร็จ",
        "latest": "ข่าวล่าสุด",
        "stats": "<b>ดัชนี</b>\nเอกสาร: {documents}\nข้อความ: {chunks}\nโมเดล: {model}\n"
        "ปรับปรุงล่าสุด: {built_at}",
        "no_index": "ยังไม่ได้สร้างดัชนี",
        "generated_by": "เรียบเรียงโดย {model} จากข้อความด้านล่าง โปรดตรวจสอบ",
        "generated_not_found": "ข่าวด้านล่างไม่ได้ระบุเรื่องนี้",
        "follow_how": (
            "ส่ง /follow ตามด้วยหัวข้อ เช่น <code>/follow คณะรัฐมนตรี ข้าว</code> "
            "หรือตอบกลับคำตอบของบอทด้วย /follow แล้วบอทจะส่งข่าวใหม่เรื่องนั้นให้"
        ),
        "followed": "ติดตาม “{topic}” แล้ว บอทจะส่งข่าวใหม่เรื่องนี้ให้ ดูหัวข้อทั้งหมดได้ที่ /following",
        "follow_full": "คุณติดตามครบ {cap} หัวข้อแล้ว ยกเลิกบางหัวข้อได้ที่ /following",
        "following": "<b>หัวข้อที่คุณติดตาม</b> (ข่าวใหม่เรื่องเหล่านี้จะส่งถึงคุณ):",
        "following_none": "คุณยังไม่ได้ติดตามหัวข้อใด ตัวอย่าง: <code>/follow คณะรัฐมนตรี ข้าว</code>",
        "stop": "เลิกติดตาม {n}",
        "unfollow_how": "วิธีใช้: /unfollow N โดย N คือหมายเลขใน /following",
        "unfollowed": "เลิกติดตาม “{topic}” แล้ว",
        "no_such_follow": "คุณไม่ได้ติดตามหัวข้อนี้แล้ว",
        "new_release": "🔔 ข่าวใหม่เรื่อง “{topic}”:",
        "digest": "🔔 ข่าวใหม่ {count} ข่าวในหัวข้อที่คุณติดตาม:",
        "digest_more": "…และอีก {count} ข่าว: /latest",
    },
}


def language_of(text: str | None, fallback: str | None = None) -> str:
    """``th`` for text with Thai letters; else the user's Telegram language, else ``en``."""
    if text and is_thai(text):
        return "th"
    if text and any(ch.isalpha() for ch in text):
        return "en"
    return "th" if (fallback or "").startswith("th") else "en"


def t(lang: str, key: str, **values) -> str:
    """The interface string ``key`` in ``lang`` (Thai or English)."""
    text = STRINGS.get(lang, STRINGS["en"]).get(key) or STRINGS["en"][key]
    return text.format(**values) if values else text
