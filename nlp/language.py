"""Which language is a message written in? Judged from its scripts and a few markers.

`detect_language(text)` returns one of "ja", "ko", "zh", "zh-Hant", "en", "vi", "pt" — or
None when the text is too short or mixed to tell (a lone "WiFi" or "住民票" says nothing
about the writer's language). Callers switch the reply language only on a clear answer.
"""

from __future__ import annotations

import re
import unicodedata

# Simplified forms that neither traditional Chinese nor Japanese writes.
_SIMPLIFIED_ONLY = frozenset(
    "们么这吗说请办证个会样对还时处险钱缴户发儿为丢该应联车验难续领补过给让头书图馆开关门问题"
    "疗护养电费资负责废弃换东买卖岁级层预约报订单义务纳实际寻边远风"
)
# Traditional forms Japanese no longer writes (it uses 証, 会, 区, 医, … instead).
_TRADITIONAL_ONLY = frozenset("們麼這嗎說辦證會樣裡對處醫區險號錢繳戶稅發舊學兒與沒丟該應聯繫驗續讓圖關廢邊實單樓歲賣")
# Chinese words in either script that kanji-only Japanese (a noun like 住民票) practically never has.
_ZH_FUNCTION = frozenset("的我你您怎哪呢吧啊吗嗎么麼什谁誰垃圾扔")

# Vietnamese: letters no other Latin language here uses.
_VI_LETTERS = frozenset("đĐăĂơƠưƯ")
_VI_WORDS = frozenset(
    "toi tôi lam làm sao o ở dau đâu the thế nao nào khong không duoc được cua của cho va và nguoi người "
    "bao nhiêu nhieu can cần muon muốn di đi ve về co có là gì gi khi ngày ngay mới moi rác rac thủ tục tuc "
    "bị bi mất mat thẻ vứt vut ghế ghe xin chào chao cảm ơn on nhà nha".split()
)
_PT_LETTERS = frozenset("çÇãÃõÕ")
_PT_WORDS = frozenset(
    "como onde quero posso não nao preciso para uma um meu minha de do da dos das que fazer "
    "é eu a o os as no na pelo pela abre fica quando qual quanto custa sou tenho lixo".split()
)
_EN_WORDS = frozenset(
    "how where what when can do does i my the a an to of is are for in on get with need want "
    "should which who i'm it nearest closest near shelter shelters evacuation please".split()
)
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# URLs and mail addresses say nothing about the writer's language. Each alternative can only
# start where a match can (a scheme, or the start of a whitespace-delimited token), so the
# scan is linear: an unanchored `\S+@\S+` retried at every offset of a long token without an
# @ was quadratic (100,000 CJK characters took 11.8 s).
_URL_RE = re.compile(r"https?://\S+|(?<!\S)[^\s@]*@\S*")
# LINE's limit for a text message, in UTF-16 code units; longer input is not a LINE message.
TEXT_MAX_UTF16 = 5000


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how LINE counts a text's characters (an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def clip_utf16(text: str, limit: int = TEXT_MAX_UTF16) -> str:
    """At most `limit` UTF-16 code units (LINE's count: a character outside the BMP is 2)."""
    if len(text) <= limit // 2:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return text[:i]
    return text


def _is_hangul(o: int) -> bool:
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def _is_kana(o: int) -> bool:
    return (0x3041 <= o <= 0x30FF and o != 0x30FB) or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9D


def _is_han(o: int) -> bool:
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def _is_latin(ch: str, o: int) -> bool:
    return ch.isalpha() and (o < 0x250 or 0x1E00 <= o <= 0x1EFF or 0xFF21 <= o <= 0xFF5A)


def _is_vi_tone_letter(o: int) -> bool:
    # Latin Extended Additional's Vietnamese block (ạ ả ấ ầ … ỹ).
    return 0x1EA0 <= o <= 0x1EF9


def detect_language(text: str) -> str | None:
    """The language `text` is clearly written in, or None when unclear or too short."""
    if not isinstance(text, str):
        raise ValueError(f"text must be str, not {type(text).__name__}")
    text = unicodedata.normalize("NFC", _URL_RE.sub(" ", clip_utf16(text)))
    hangul = kana = han = latin = 0
    vi_marks = pt_marks = 0
    simp = trad = zh_function = 0
    for ch in text:
        o = ord(ch)
        if _is_hangul(o):
            hangul += 1
        elif _is_kana(o):
            kana += 1
        elif _is_han(o):
            han += 1
            simp += ch in _SIMPLIFIED_ONLY
            trad += ch in _TRADITIONAL_ONLY
            zh_function += ch in _ZH_FUNCTION or ch in _SIMPLIFIED_ONLY or ch in _TRADITIONAL_ONLY
        elif _is_latin(ch, o):
            latin += 1
            vi_marks += ch in _VI_LETTERS or _is_vi_tone_letter(o)
            pt_marks += ch in _PT_LETTERS
    if hangul >= 2 and hangul >= kana:
        return "ko"
    if kana:
        # Any kana means Japanese, even with a Latin word ("WiFiはありますか").
        return "ja"
    cjk = han + hangul
    if latin > 2 * cjk:
        return _latin_language(text, vi_marks, pt_marks)
    if han >= 2 and zh_function:
        return "zh-Hant" if trad > simp else "zh"
    return None


def _latin_language(text: str, vi_marks: int, pt_marks: int) -> str | None:
    words = [w.lower() for w in _WORD_RE.findall(text) if _is_latin(w[0], ord(w[0]))]
    if len(words) < 2:
        return None  # one Latin word ("WiFi", "OK", a name) does not tell the language
    if vi_marks:
        return "vi"
    vi = sum(w in _VI_WORDS for w in words)
    pt = sum(w in _PT_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    if pt_marks or (pt >= 2 and pt > en):
        return "pt"
    if vi >= 2 and vi > en:
        return "vi"
    if en >= 1 or len(words) >= 3:
        return "en"
    return None


_TO_SIMPLIFIED = str.maketrans(
    {
        t: s
        for t, s in zip(
            "們麼這嗎說辦證會樣裡對處醫區險號錢繳戶稅發舊學兒與沒丟該應聯繫驗續讓圖關護療費難時還給請問題頭書館開門過補領電車養買賣歲級層樓預約報訂單義務實際尋邊遠風廢棄換東負責資垃圾",
            "们么这吗说办证会样里对处医区险号钱缴户税发旧学儿与没丢该应联系验续让图关护疗费难时还给请问题头书馆开门过补领电车养买卖岁级层楼预约报订单义务实际寻边远风废弃换东负责资垃圾",
            strict=True,
        )
    }
)


def to_simplified(text: str) -> str:
    """Map the common traditional characters to simplified ones (for searching zh rows)."""
    return text.translate(_TO_SIMPLIFIED)
