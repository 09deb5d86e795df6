"""What the bot says, in Arabic (with a short English line where a newcomer needs one), as Telegram HTML."""

from __future__ import annotations

from askbot.telegram.formatting import esc
from askbot.types import Article, IndexInfo

COMMANDS = {
    "start": "بدء الاستخدام وشرح مختصر",
    "help": "كيف أسأل؟",
    "about": "حجم الفهرس والنموذج وتاريخ البناء",
    "source": "النص الكامل لمقطع: /source رقم",
    "latest": "أحدث المقالات: العناوين والتواريخ والروابط",
}
LATEST_COUNT = 10
NO_ARTICLES = "لا مقالات مؤرخة في الفهرس بعد."

MORE_BUTTON = "⬇️ المزيد من النتائج"
PASSAGE_BUTTON = "📄 النص الكامل {number}"
ERROR = "عذرًا، حدث خطأ أثناء معالجة طلبك. حاول مرة أخرى بعد قليل."
RATE_LIMITED = "تمهّل قليلًا من فضلك 🙏 لقد أرسلت أسئلة كثيرة في وقت قصير. حاول مرة أخرى بعد {seconds} ثانية."
QUESTION_CUT = "✂️ سؤالك طويل، فاقتطعت أول {limit} حرف منه."
FOLLOWUP = "🔗 فهمت سؤالك متابعةً لما سبق: <i>{question}</i>"
SOURCE_USAGE = "اكتب رقم المقطع بعد الأمر، مثل: <code>/source 12</code>"
NO_PASSAGE = "لا يوجد مقطع بالرقم {number}."
EXPIRED = "انتهت صلاحية هذا الزر؛ أعد إرسال سؤالك."
NO_MORE = "لا توجد نتائج أخرى."
INLINE_HINT = "اكتب سؤالًا عن الأخبار"


def help_text(info: IndexInfo, username: str) -> str:
    """/start and /help: how to ask, what is indexed, the commands."""
    return "\n".join(
        [
            "<b>مرحبًا! أنا بوت يجيب عن أسئلتك من أرشيف أخبار عربية، مع ذكر المصدر.</b>",
            "",
            f"📚 في الفهرس الآن {info.articles} مقالًا ({info.passages} مقطعًا).",
            "",
            "<b>كيف أسأل؟</b>",
            "• اكتب سؤالك بالعربية، مثل: <i>ما الاتفاقية التي وقعها العراق وإيران؟</i>",
            "• أعرض أفضل المقاطع، والجملة الأقرب إلى الجواب بخط عريض، ثم العنوان والمصدر والتاريخ والرابط.",
            "• زر «المزيد من النتائج» يعرض مقاطع أخرى، وزر «النص الكامل» يعرض المقطع كله.",
            "• يمكنك أن تسأل متابعةً، مثل: <i>ومتى حدث ذلك؟</i>",
            f"• في المجموعات اذكرني (@{esc(username)}) أو ردّ على رسالتي.",
            f"• في أي محادثة اكتب <code>@{esc(username)} سؤالك</code> لاختيار مقطع وإرساله.",
            "",
            "/about حجم الفهرس والنموذج · /source رقم المقطع",
            "",
            "<i>Ask me anything about the indexed Arabic news; I answer with cited excerpts.</i>",
        ]
    )


def about_text(info: IndexInfo) -> str:
    """/about: corpus size, model, index date."""
    built = info.built or "—"
    return "\n".join(
        [
            "<b>عن الفهرس</b>",
            f"📰 المقالات: {info.articles}",
            f"🧩 المقاطع: {info.passages}",
            f"🧠 النموذج: <code>{esc(info.model or '—')}</code>",
            f"🗓 تاريخ البناء: {esc(built[:19].replace('T', ' '))}",
        ]
    )


def latest_text(articles: list[Article]) -> str:
    """/latest: the newest articles, one line each: date, title (linked), source."""
    if not articles:
        return NO_ARTICLES
    lines = ["<b>🆕 أحدث المقالات</b>"]
    for a in articles:
        title = esc(a.title or a.id)
        linked = f'<a href="{esc(a.url)}">{title}</a>' if a.url.startswith(("http://", "https://")) else title
        source = f" — {esc(a.source)}" if a.source else ""
        lines.append(f"• {esc(a.published[:16].replace('T', ' '))} · {linked}{source}")
    return "\n".join(lines)
