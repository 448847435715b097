"""Emergency alerts: templates, drafts, two-person approval, the outbox, cancel and correction.

Modelled on CAP 1.2: status (actual / exercise / test), msg_type (alert / update / cancel
referencing the original), event, severity, per-language headline and body, target areas,
languages and topics, expiry. The operator console (admin/) and the CLI (commands/alerts.py)
both call the functions here; errors are `AlertError` subclasses with Japanese messages
an operator can act on.
"""

from __future__ import annotations

import csv
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot import areas as area_names
from bot.i18n import LANGUAGES, t
from shelters import hazards
from shelters import service as shelters
from store import alerts as alert_store
from store import audit
from store import residents as resident_store

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("actual", "exercise", "test")
MSG_TYPES = ("alert", "update", "cancel")
DEFAULT_STALE_MINUTES = 30.0
DEFAULT_EXPIRY_HOURS = 24.0
TEXT_MAX = 5000
FIELD_MAX = 200
# Free text limits (README): a headline is a line people read in a notification and lists; a body
# stays well under LINE's 5,000 characters with the status and type lines added, so nothing is
# clipped on the way to residents.
HEADLINE_MAX = 100
BODY_MAX = 4000
HAZARDS = hazards.LABELS  # key → the label operators and residents read
INTENSITIES = ("1", "2", "3", "4", "5弱", "5強", "6弱", "6強", "7")


# --- errors (raised deep, turned into messages at the edge) ------------------------------


class AlertError(Exception):
    """Base of every alert error; str() is a Japanese sentence for the operator."""


class UnknownAlert(AlertError):
    def __init__(self, alert_id: int):
        super().__init__(f"警報 {alert_id} は見つかりません。")


class InvalidAlert(AlertError):
    """The draft is incomplete or inconsistent; `problems` lists every issue."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("入力に誤りがあります: " + " / ".join(self.problems))


class DrillAsActual(InvalidAlert):
    """A drill/test text or template used with status actual (Hawaii 2018, Genkai)."""


class SelfApprovalRefused(AlertError):
    def __init__(self) -> None:
        super().__init__("作成した本人は承認できません。別の担当者が承認してください。")


class NotApproved(AlertError):
    def __init__(self) -> None:
        super().__init__("この警報はまだ承認されていません。別の担当者の承認が必要です。")


class AlertStale(AlertError):
    def __init__(self, minutes: float) -> None:
        super().__init__(
            f"承認から {minutes:g} 分以上たっているため送信しません。内容が今も正しいか確認し、もう一度承認してください。"
        )


class AlertExpired(AlertStale):
    def __init__(self) -> None:
        AlertError.__init__(self, "有効期限を過ぎた警報は送信できません。新しい警報を作成してください。")


class AlreadySent(AlertError):
    def __init__(self, state: str) -> None:
        super().__init__(
            f"この警報はすでに配信済みまたは配信中です（状態: {STATE_LABELS.get(state, state)}）。同じ警報は二度送信しません。"
        )


class AlreadyCancelled(AlertError):
    def __init__(self, cancel_id: int) -> None:
        super().__init__(f"この警報はすでに取り消されています（取消の警報 {cancel_id}）。")


class CancelNotConfirmed(AlertError):
    def __init__(self) -> None:
        super().__init__("取消は、送る文面と人数を確認してから実行してください（確認が必要です）。")


class Withdrawn(AlertError):
    def __init__(self) -> None:
        super().__init__("この警報は取り下げられています。")


class TestAudienceNotForActual(InvalidAlert):
    """Only exercise/test alerts can be limited to the staff test audience."""

    def __init__(self) -> None:
        super().__init__(
            [
                "本番（actual）の警報はテスト対象者だけに送ることはできません。"
                "試しに送るときは訓練（exercise）かテスト（test）として作成してください"
            ]
        )


class QuotaExhausted(AlertError):
    def __init__(self) -> None:
        super().__init__(QUOTA_MESSAGE)


QUOTA_MESSAGE = (
    "LINEの今月の送信上限（メッセージ数）に達したため、配信を止めました。まだ届いていない人がいます。"
    "LINE公式アカウントの管理画面でプラン（地方公共団体プラン等）を確認し、上限を解除してから"
    "「alert send」で再開してください。"
)
EXPIRED_MESSAGE = (
    "有効期限を過ぎたため、まだ送っていなかった {n} 人分の配信を取り下げました（古い内容を後から送らないため）。"
    "必要なら内容を確認して新しい警報を作成してください。"
)
STATE_LABELS = {
    "draft": "下書き（承認待ち）",
    "approved": "承認済み（未送信）",
    "sending": "配信中",
    "sent": "配信済み",
    "stopped": "停止中",
    "withdrawn": "取り下げ",
}
STATUS_LABELS = {"actual": "本番", "exercise": "訓練", "test": "テスト"}
TOPIC_LABELS = {"disaster": "防災", "event": "イベント", "childcare": "子育て", "garbage": "ごみ"}


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    label: str
    required: bool = True
    choices: Mapping[str, str] | None = None  # accepted value → stored value


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    event: str
    severity: str
    level: int | None
    texts: Mapping[str, tuple[str, str]]  # lang → (headline, body) format strings
    fields: Mapping[str, Field] = field(default_factory=dict)
    hazard: str | None = None  # fixed hazard; otherwise the `hazard` field
    status: str | None = None  # forced status (the drill template is never actual)


_HAZARD_CHOICES = {**{k: k for k in HAZARDS}, **{v: k for k, v in HAZARDS.items()}}
_AREA_FIELD = Field("対象地区（例：みどり一丁目・二丁目）")

TEMPLATES: dict[str, Template] = {
    "evac_level3": Template(
        "evac_level3",
        "警戒レベル3 高齢者等避難",
        "evacuation",
        "Severe",
        3,
        {
            "ja": (
                "【警戒レベル3】高齢者等避難",
                "{areas}に{hazard_name}に関する警戒レベル3、高齢者等避難を発令しました。"
                "高齢の方、障害のある方など避難に時間のかかる方とその支援者は、危険な場所から避難してください。"
                "その他の方も避難の準備をしてください。",
            ),
            "easy": (
                "【警戒（けいかい）レベル3】お年寄（としよ）りなどは 逃（に）げてください",
                "{areas}に {hazard_name}の 警戒（けいかい）レベル3が 出（で）ました。"
                "お年寄りや 体（からだ）の 不自由（ふじゆう）な 人（ひと）は、危（あぶ）ない 場所（ばしょ）から 逃げてください。"
                "ほかの 人も 逃げる 準備（じゅんび）を してください。",
            ),
            "en": (
                "[Alert Level 3] Evacuation of elderly people, etc. (高齢者等避難)",
                "Evacuation of elderly people, etc. (高齢者等避難, Alert Level 3) has been issued for {areas} "
                "({hazard_name}). Elderly people, people with disabilities and others who need time to evacuate, "
                "and those who help them, must evacuate from dangerous places now. Everyone else should prepare "
                "to evacuate.",
            ),
            "zh": (
                "【警戒等级3】高龄者等避难（高齢者等避難）",
                "针对{areas}发布了有关{hazard_name}的警戒等级3「高龄者等避难（高齢者等避難）」。"
                "老年人、残障人士等避难需要较长时间的人及其协助者，请从危险的地方避难。其他人也请做好避难准备。",
            ),
            "zh-Hant": (
                "【警戒等級3】高齡者等避難（高齢者等避難）",
                "已針對{areas}發布有關{hazard_name}的警戒等級3「高齡者等避難」。"
                "高齡者、身心障礙者等避難需要較長時間的人及其協助者，請從危險的地方避難。其他人也請做好避難準備。",
            ),
            "ko": (
                "[경계 레벨 3] 고령자 등 피난 (高齢者等避難)",
                "{areas}에 {hazard_name} 관련 경계 레벨 3 '고령자 등 피난(高齢者等避難)'이 발령되었습니다. "
                "고령자, 장애인 등 피난에 시간이 걸리는 분과 그 지원자는 위험한 장소에서 피난하십시오. "
                "그 밖의 분들도 피난 준비를 하십시오.",
            ),
            "vi": (
                "[Cấp độ cảnh báo 3] Sơ tán người cao tuổi, v.v. (高齢者等避難)",
                "Đã ban hành Sơ tán người cao tuổi, v.v. (高齢者等避難, Cấp độ cảnh báo 3) cho {areas} "
                "({hazard_name}). Người cao tuổi, người khuyết tật và những người cần nhiều thời gian để sơ tán, "
                "cùng người hỗ trợ họ, hãy sơ tán khỏi nơi nguy hiểm ngay. Những người khác hãy chuẩn bị sơ tán.",
            ),
            "pt": (
                "[Nível de alerta 3] Evacuação de idosos etc. (高齢者等避難)",
                "Foi emitida a Evacuação de idosos etc. (高齢者等避難, Nível de alerta 3) para {areas} "
                "({hazard_name}). Idosos, pessoas com deficiência e outras pessoas que precisam de tempo para "
                "evacuar, e quem as ajuda, devem sair agora dos locais perigosos. As demais pessoas devem se "
                "preparar para evacuar.",
            ),
        },
        {"areas": _AREA_FIELD, "hazard": Field("災害の種類", choices=_HAZARD_CHOICES)},
    ),
    "evac_level4": Template(
        "evac_level4",
        "警戒レベル4 避難指示",
        "evacuation",
        "Extreme",
        4,
        {
            "ja": (
                "【警戒レベル4】避難指示",
                "{areas}に{hazard_name}に関する警戒レベル4、避難指示を発令しました。"
                "{areas}の方は速やかに全員避難を開始してください。",
            ),
            "easy": (
                "【警戒（けいかい）レベル4】すぐ 逃（に）げてください",
                "{areas}に {hazard_name}の 警戒（けいかい）レベル4が 出（で）ました。"
                "{areas}の 人（ひと）は みんな すぐに 危（あぶ）ない 場所（ばしょ）から 逃げてください。",
            ),
            "en": (
                "[Alert Level 4] Evacuation instruction (避難指示)",
                "An evacuation instruction (避難指示, Alert Level 4) has been issued for {areas} ({hazard_name}). "
                "Everyone in {areas} must evacuate from dangerous places immediately.",
            ),
            "zh": (
                "【警戒等级4】避难指示（避難指示）",
                "针对{areas}发布了有关{hazard_name}的警戒等级4「避难指示（避難指示）」。"
                "{areas}的所有人请立即从危险的地方避难。",
            ),
            "zh-Hant": (
                "【警戒等級4】避難指示",
                "已針對{areas}發布有關{hazard_name}的警戒等級4「避難指示」。{areas}的所有人請立即從危險的地方避難。",
            ),
            "ko": (
                "[경계 레벨 4] 피난지시 (避難指示)",
                "{areas}에 {hazard_name} 관련 경계 레벨 4 '피난지시(避難指示)'가 발령되었습니다. "
                "{areas}의 모든 분은 즉시 위험한 장소에서 피난하십시오.",
            ),
            "vi": (
                "[Cấp độ cảnh báo 4] Chỉ thị sơ tán (避難指示)",
                "Đã ban hành Chỉ thị sơ tán (避難指示, Cấp độ cảnh báo 4) cho {areas} ({hazard_name}). "
                "Tất cả mọi người ở {areas} hãy sơ tán ngay lập tức khỏi nơi nguy hiểm.",
            ),
            "pt": (
                "[Nível de alerta 4] Instrução de evacuação (避難指示)",
                "Foi emitida uma Instrução de evacuação (避難指示, Nível de alerta 4) para {areas} ({hazard_name}). "
                "Todas as pessoas em {areas} devem sair imediatamente dos locais perigosos.",
            ),
        },
        {"areas": _AREA_FIELD, "hazard": Field("災害の種類", choices=_HAZARD_CHOICES)},
    ),
    "evac_level5": Template(
        "evac_level5",
        "警戒レベル5 緊急安全確保",
        "evacuation",
        "Extreme",
        5,
        {
            "ja": (
                "【警戒レベル5】緊急安全確保",
                "{areas}に{hazard_name}に関する警戒レベル5、緊急安全確保を発令しました。"
                "災害が発生または切迫しています。命の危険があります。直ちに身の安全を確保してください。",
            ),
            "easy": (
                "【警戒（けいかい）レベル5】すぐに 命（いのち）を 守（まも）ってください",
                "{areas}に {hazard_name}の 警戒（けいかい）レベル5が 出（で）ました。"
                "とても 危（あぶ）ないです。今（いま）いる 場所（ばしょ）で すぐに 命を 守って ください。",
            ),
            "en": (
                "[Alert Level 5] Emergency safety measures (緊急安全確保)",
                "Emergency safety measures (緊急安全確保, Alert Level 5) have been issued for {areas} "
                "({hazard_name}). A disaster is occurring or imminent. Your life is in danger. "
                "Secure your safety immediately.",
            ),
            "zh": (
                "【警戒等级5】紧急安全确保（緊急安全確保）",
                "针对{areas}发布了有关{hazard_name}的警戒等级5「紧急安全确保（緊急安全確保）」。"
                "灾害正在发生或迫在眉睫，有生命危险。请立即确保自身安全。",
            ),
            "zh-Hant": (
                "【警戒等級5】緊急安全確保",
                "已針對{areas}發布有關{hazard_name}的警戒等級5「緊急安全確保」。"
                "災害正在發生或迫在眉睫，有生命危險。請立即確保自身安全。",
            ),
            "ko": (
                "[경계 레벨 5] 긴급안전확보 (緊急安全確保)",
                "{areas}에 {hazard_name} 관련 경계 레벨 5 '긴급안전확보(緊急安全確保)'가 발령되었습니다. "
                "재해가 발생했거나 임박했습니다. 생명이 위험합니다. 즉시 자신의 안전을 확보하십시오.",
            ),
            "vi": (
                "[Cấp độ cảnh báo 5] Đảm bảo an toàn khẩn cấp (緊急安全確保)",
                "Đã ban hành Đảm bảo an toàn khẩn cấp (緊急安全確保, Cấp độ cảnh báo 5) cho {areas} "
                "({hazard_name}). Thảm họa đang xảy ra hoặc sắp xảy ra. Tính mạng của bạn đang gặp nguy hiểm. "
                "Hãy bảo đảm an toàn cho bản thân ngay lập tức.",
            ),
            "pt": (
                "[Nível de alerta 5] Garantia de segurança emergencial (緊急安全確保)",
                "Foi emitida a Garantia de segurança emergencial (緊急安全確保, Nível de alerta 5) para {areas} "
                "({hazard_name}). Um desastre está ocorrendo ou é iminente. Sua vida corre perigo. "
                "Proteja-se imediatamente.",
            ),
        },
        {"areas": _AREA_FIELD, "hazard": Field("災害の種類", choices=_HAZARD_CHOICES)},
    ),
    "shelter_open": Template(
        "shelter_open",
        "避難所開設",
        "shelter",
        "Moderate",
        None,
        {
            "ja": (
                "【避難所開設】{shelter_name}",
                "{areas}の方のために、避難所「{shelter_name}」（{address}）を開設しました。",
            ),
            "easy": (
                "【避難所（ひなんじょ）が あきました】{shelter_name}",
                "{areas}の 人（ひと）の ために、避難所（ひなんじょ）「{shelter_name}」（{address}）が あきました。",
            ),
            "en": (
                "[Evacuation shelter open (避難所開設)] {shelter_name}",
                'The evacuation shelter "{shelter_name}" ({address}) is now open for residents of {areas}.',
            ),
            "zh": (
                "【避难所开设（避難所開設）】{shelter_name}",
                "已为{areas}的居民开设避难所「{shelter_name}」（{address}）。",
            ),
            "zh-Hant": ("【避難所開設】{shelter_name}", "已為{areas}的居民開設避難所「{shelter_name}」（{address}）。"),
            "ko": (
                "[피난소 개설 (避難所開設)] {shelter_name}",
                "{areas} 주민을 위해 피난소 '{shelter_name}'({address})을(를) 개설했습니다.",
            ),
            "vi": (
                "[Mở nơi lánh nạn (避難所開設)] {shelter_name}",
                'Nơi lánh nạn "{shelter_name}" ({address}) đã được mở cho cư dân {areas}.',
            ),
            "pt": (
                "[Abrigo aberto (避難所開設)] {shelter_name}",
                'O abrigo de evacuação "{shelter_name}" ({address}) foi aberto para os moradores de {areas}.',
            ),
        },
        {"shelter_name": Field("避難所名"), "address": Field("住所"), "areas": _AREA_FIELD},
    ),
    "earthquake": Template(
        "earthquake",
        "地震",
        "earthquake",
        "Severe",
        None,
        {
            "ja": (
                "【地震】最大震度{intensity}",
                "{areas}で震度{intensity}の揺れを観測しました。落ち着いて身の安全を確保し、火の元を確認してください。"
                "倒れた家具や割れたガラスに注意してください。",
            ),
            "easy": (
                "【地震（じしん）】震度（しんど）{intensity}",
                "{areas}で 震度（しんど）{intensity}の 地震（じしん）が ありました。"
                "体（からだ）を 守（まも）ってください。火（ひ）を 消（け）してください。",
            ),
            "en": (
                "[Earthquake (地震)] Seismic intensity {intensity_name} (震度{intensity})",
                "Shaking of seismic intensity {intensity_name} (震度{intensity}, Japanese scale) was observed in "
                "{areas}. Stay calm, protect yourself and check for fire. Watch out for fallen furniture and "
                "broken glass.",
            ),
            "zh": (
                "【地震】最大震度{intensity_name}",
                "{areas}观测到震度{intensity_name}（日本震度等级）的摇晃。请保持冷静，确保自身安全，并检查火源。"
                "请注意倒下的家具和破碎的玻璃。",
            ),
            "zh-Hant": (
                "【地震】最大震度{intensity_name}",
                "{areas}觀測到震度{intensity_name}（日本震度等級）的搖晃。請保持冷靜，確保自身安全，並檢查火源。"
                "請注意倒下的家具和破碎的玻璃。",
            ),
            "ko": (
                "[지진 (地震)] 최대 진도 {intensity_name} (震度{intensity})",
                "{areas}에서 진도 {intensity_name}(일본 진도 계급)의 흔들림이 관측되었습니다. "
                "침착하게 몸의 안전을 확보하고 불이 난 곳이 없는지 확인하십시오. "
                "쓰러진 가구나 깨진 유리에 주의하십시오.",
            ),
            "vi": (
                "[Động đất (地震)] Cường độ địa chấn tối đa {intensity_name} (震度{intensity})",
                "Đã ghi nhận rung lắc cường độ địa chấn {intensity_name} (thang đo của Nhật Bản) tại {areas}. "
                "Hãy bình tĩnh, bảo vệ bản thân và kiểm tra lửa. "
                "Hãy cẩn thận với đồ đạc bị đổ và kính vỡ.",
            ),
            "pt": (
                "[Terremoto (地震)] Intensidade sísmica máxima {intensity_name} (震度{intensity})",
                "Foi registrado um tremor de intensidade sísmica {intensity_name} (escala japonesa) em {areas}. "
                "Mantenha a calma, proteja-se e verifique se não há fogo aceso. "
                "Cuidado com móveis caídos e vidros quebrados.",
            ),
        },
        {
            "areas": _AREA_FIELD,
            "intensity": Field("震度（1〜7、5弱・5強・6弱・6強）", choices={i: i for i in INTENSITIES}),
        },
        hazard="earthquake",
    ),
    "drill": Template(
        "drill",
        "訓練",
        "drill",
        "Minor",
        None,
        {
            "ja": ("防災訓練のお知らせ", "{scenario}"),
            "easy": ("防災訓練（ぼうさいくんれん）の お知（し）らせ", "{scenario}"),
            "en": ("Disaster drill (防災訓練)", "A disaster drill is being held. Details (in Japanese):\n{scenario}"),
            "zh": ("防灾演习通知（防災訓練）", "正在举行防灾演习。详细内容（日语）：\n{scenario}"),
            "zh-Hant": ("防災演習通知（防災訓練）", "正在舉行防災演習。詳細內容（日語）：\n{scenario}"),
            "ko": ("방재 훈련 안내 (防災訓練)", "방재 훈련을 실시합니다. 자세한 내용(일본어):\n{scenario}"),
            "vi": (
                "Thông báo diễn tập phòng chống thiên tai (防災訓練)",
                "Đang tổ chức diễn tập phòng chống thiên tai. Chi tiết (bằng tiếng Nhật):\n{scenario}",
            ),
            "pt": (
                "Aviso de simulado de prevenção de desastres (防災訓練)",
                "Está sendo realizado um simulado de prevenção de desastres. Detalhes (em japonês):\n{scenario}",
            ),
        },
        {"scenario": Field("訓練の内容")},
        status="exercise",
    ),
    # 解除: the order ends (it was right). Never 「まちがい」 wording: that is 取消 (cancel).
    "lift": Template(
        "lift",
        "解除（避難情報の終了）",
        "evacuation",
        "Minor",
        None,
        {
            "ja": (
                "【解除】{order_name}を解除しました",
                "{areas}に発令していた{hazard_name}に関する{order_name}を解除しました。"
                "引き続き、気象情報や区からのお知らせに注意してください。"
                "避難先から戻るときは、足元や周りの安全に十分気をつけてください。",
            ),
            "easy": (
                "【解除】{order_name}は おわりました",
                "{areas}の {hazard_name}の {order_name}は おわりました。"
                "家（いえ）に 帰（かえ）るときは、足（あし）もとに 気（き）をつけてください。"
                "これからも お知（し）らせを 見（み）てください。",
            ),
            "en": (
                "【解除】LIFTED: {order_name} has been lifted",
                "The {order_name} for {areas} ({hazard_name}) has been lifted. Keep following weather information "
                "and notices from the ward. When you return from where you evacuated, watch your step and your "
                "surroundings.",
            ),
            "zh": (
                "【解除】{order_name}已解除",
                "针对{areas}发布的有关{hazard_name}的{order_name}已解除。请继续关注气象信息和区政府的通知。"
                "从避难地点返回时，请注意脚下和周围的安全。",
            ),
            "zh-Hant": (
                "【解除】{order_name}已解除",
                "針對{areas}發布的有關{hazard_name}的{order_name}已解除。請繼續關注氣象資訊和區公所的通知。"
                "從避難地點返回時，請注意腳下和周圍的安全。",
            ),
            "ko": (
                "【解除】{order_name} 해제",
                "{areas}에 발령되었던 {hazard_name} 관련 {order_name}이(가) 해제되었습니다. "
                "계속해서 기상 정보와 구의 안내에 주의해 주십시오. 피난처에서 돌아갈 때는 발밑과 주변의 안전에 주의하십시오.",
            ),
            "vi": (
                "【解除】Dỡ bỏ: {order_name}",
                "{order_name} đã ban hành cho {areas} ({hazard_name}) đã được dỡ bỏ. "
                "Hãy tiếp tục theo dõi thông tin thời tiết và thông báo của quận. "
                "Khi trở về từ nơi sơ tán, hãy chú ý an toàn dưới chân và xung quanh.",
            ),
            "pt": (
                "【解除】Suspensão: {order_name}",
                "A {order_name} emitida para {areas} ({hazard_name}) foi suspensa. "
                "Continue acompanhando as informações meteorológicas e os avisos do distrito. "
                "Ao voltar do local de evacuação, cuidado com o caminho e os arredores.",
            ),
        },
        {
            "areas": _AREA_FIELD,
            "order": Field(
                "解除する避難情報",
                choices={"evac_level3": "evac_level3", "evac_level4": "evac_level4", "evac_level5": "evac_level5"},
            ),
            "hazard": Field("災害の種類", choices=_HAZARD_CHOICES),
        },
    ),
}
# JMA seismic intensity classes in each language (5弱 = "5 Lower", …); Japanese keeps 5弱.
INTENSITY_NAMES: dict[str, dict[str, str]] = {
    "en": {"5弱": "5 Lower", "5強": "5 Upper", "6弱": "6 Lower", "6強": "6 Upper"},
    "zh": {"5強": "5强"},
    "ko": {"5弱": "5약", "5強": "5강", "6弱": "6약", "6強": "6강"},
    "vi": {"5弱": "5 yếu", "5強": "5 mạnh", "6弱": "6 yếu", "6強": "6 mạnh"},
    "pt": {"5弱": "5 inferior", "5強": "5 superior", "6弱": "6 inferior", "6強": "6 superior"},
}
# Resident-facing language names, for the operator's preview (Japanese).
LANG_NAMES = {
    "ja": "日本語",
    "easy": "やさしい日本語",
    "en": "英語",
    "zh": "中国語（簡体字）",
    "zh-Hant": "中国語（繁体字）",
    "ko": "韓国語",
    "vi": "ベトナム語",
    "pt": "ポルトガル語",
}
# Words that mark a drill or test text: such text is never sent as actual.
_DRILL_MARKERS = ("訓練", "くんれん", "テスト", "drill", "exercise", "これは試験")


# --- areas ---------------------------------------------------------------------------------


def _config(key: str, default: Any) -> Any:
    try:
        from flask import current_app

        return current_app.config.get(key, default)
    except RuntimeError:  # outside an app context
        return default


def load_areas(path: str | Path | None = None) -> list[dict[str, str]]:
    """The ward's areas (code, name, kana) from the staff-edited CSV."""
    path = Path(path or _config("AREAS_CSV", ROOT / "data" / "areas.csv"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [
            {"code": r["code"].strip(), "name": r["name"].strip(), "kana": (r.get("kana") or "").strip()}
            for r in csv.DictReader(fh)
            if (r.get("code") or "").strip()
        ]


def resolve_areas(values: Iterable[str], areas: Sequence[Mapping[str, str]] | None = None) -> list[str]:
    """Turn codes or names (or kana) into area codes; unknown ones raise InvalidAlert."""
    areas = areas if areas is not None else load_areas()
    lookup: dict[str, str] = {}
    for a in areas:
        for key in (a["code"], a["name"], a.get("kana") or ""):
            if key:
                lookup[key] = a["code"]
    out: list[str] = []
    problems = []
    for v in values:
        code = lookup.get(v.strip())
        if code is None:
            problems.append(f"地区「{v}」は areas.csv にありません")
        elif code not in out:
            out.append(code)
    if problems:
        raise InvalidAlert(problems)
    return out


# --- rendering -----------------------------------------------------------------------------


def _validate_fields(tpl: Template, fields: Mapping[str, Any]) -> dict[str, str]:
    problems = []
    clean: dict[str, str] = {}
    for key in fields:
        if key not in tpl.fields:
            problems.append(f"テンプレート「{tpl.title}」に項目「{key}」はありません")
    for key, spec in tpl.fields.items():
        value = str(fields.get(key) or "").strip()
        if not value:
            if spec.required:
                problems.append(f"「{spec.label}」（{key}）を入力してください")
            continue
        if len(value) > FIELD_MAX:
            problems.append(f"「{spec.label}」が長すぎます（{FIELD_MAX}文字まで）")
        if spec.choices is not None:
            if value not in spec.choices:
                problems.append(f"「{spec.label}」は次のどれかにしてください: {'、'.join(dict.fromkeys(spec.choices))}")
                continue
            value = spec.choices[value]
        clean[key] = value
    if problems:
        raise InvalidAlert(problems)
    return clean


def _texts_for(
    alert: Mapping[str, Any], headline: str | None = None, body: str | None = None
) -> dict[str, tuple[str, str]]:
    """lang → (headline, body) of an alert row's content (without status/type prefixes)."""
    tpl = TEMPLATES.get(alert.get("template") or "")
    if tpl is None:
        out = {
            "ja": (
                headline if headline is not None else alert["headline"],
                body if body is not None else alert["fields"].get("body", ""),
            )
        }
        for lang, (h, b) in (alert["fields"].get("translations") or {}).items():
            out[lang] = (h, b)
        return out
    values = dict(alert["fields"])
    hazard = tpl.hazard or values.get("hazard")
    out = {}
    for lang, (h, b) in tpl.texts.items():
        extra = {"hazard_name": t(f"hazard_{hazard}", lang) if hazard else ""}
        if "order" in values:
            extra["order_name"] = t(f"order_{values['order']}", lang)
        if "intensity" in values:
            extra["intensity_name"] = INTENSITY_NAMES.get(lang, {}).get(values["intensity"], values["intensity"])
        out[lang] = (h.format(**extra, **values), b.format(**extra, **values))
    return out


def _length_problems(prefix: str, headline: str | None, body: str | None) -> list[str]:
    out = []
    for label, text, limit in (("見出し", headline, HEADLINE_MAX), ("本文", body, BODY_MAX)):
        n = len((text or "").strip())
        if n > limit:
            out.append(f"{prefix}{label}は{limit:,}文字までにしてください（いま{n:,}文字）")
    return out


def _clip(text: str) -> str:
    if len(text.encode("utf-16-le")) // 2 <= TEXT_MAX:
        return text
    return text[: TEXT_MAX - 200] + "…"


def _compose(
    lang: str, status: str, msg_type: str, headline: str, body: str, ref_headline: str | None, lift: bool = False
) -> list[dict[str, Any]]:
    """The exact LINE messages one language group receives."""
    lines = []
    if status == "exercise":
        lines.append(t("alert_prefix_exercise", lang))
    elif status == "test":
        lines.append(t("alert_prefix_test", lang))
    if msg_type == "cancel":
        lines.append(t("alert_cancel_intro", lang, headline=ref_headline or ""))
        if body:
            lines.append(body)
    else:
        if msg_type == "update" and not lift:
            # A lift (解除) says 【解除】 itself and must never read as a correction of a mistake.
            lines.append(t("alert_update_intro", lang, headline=ref_headline or ""))
        lines.append(headline)
        if body:
            lines.append(body)
    if status == "exercise":
        lines.append(t("alert_suffix_exercise", lang))
    elif status == "test":
        lines.append(t("alert_suffix_test", lang))
    return [{"type": "text", "text": _clip("\n\n".join(x for x in lines if x))}]


def text_lang_for(resident_lang: str | None, available: Iterable[str]) -> str:
    """Which stored text a resident gets: their language, else やさしい日本語, else Japanese."""
    available = set(available)
    lang = resident_lang or "ja"
    if lang in available:
        return lang
    if lang != "ja" and "easy" in available:
        return "easy"
    return "ja" if "ja" in available else sorted(available)[0]


# --- drafts ----------------------------------------------------------------------------------


def create_alert(
    db: Database,
    *,
    by: str,
    headline: str | None = None,
    body: str | None = None,
    template: str | None = None,
    fields: Mapping[str, Any] | None = None,
    areas: Iterable[str] = (),
    langs: Iterable[str] = (),
    topics: Iterable[str] = (),
    status: str = "actual",
    msg_type: str = "alert",
    references: int | None = None,
    expires_at: float | None = None,
    translations: Mapping[str, tuple[str, str]] | None = None,
    test_audience: bool = False,
    source: str = "cli",
) -> int:
    """Store a draft (nothing is sent); returns its id. Approval by another operator comes next.

    Free text (headline/body) is Japanese; `translations` adds the operator's own text per
    language ({lang: (headline, body)}, e.g. やさしい日本語 or English). Residents whose
    language has no text get やさしい日本語, else Japanese, and the preview says so.
    `test_audience` limits an exercise/test alert to the staff test audience
    (`add_tester`); it is refused for actual alerts.
    """
    problems: list[str] = []
    by = (by or "").strip()
    if not by:
        problems.append("作成者を入力してください")
    if status not in STATUSES:
        problems.append(f"status は {' / '.join(STATUSES)} のどれかです")
    if msg_type not in MSG_TYPES:
        problems.append(f"msg_type は {' / '.join(MSG_TYPES)} のどれかです")
    langs = list(dict.fromkeys(langs))
    for lang in langs:
        if lang not in LANGUAGES:
            problems.append(f"言語「{lang}」は対応していません（{', '.join(LANGUAGES)}）")
    topics = list(dict.fromkeys(topics))
    for topic in topics:
        if topic not in resident_store.TOPICS:
            problems.append(f"トピック「{topic}」はありません（{', '.join(resident_store.TOPICS)}）")
    ref = None
    if msg_type in ("update", "cancel"):
        ref = get_alert(db, references) if references is not None else None
        if ref is None:
            problems.append("訂正・取消には元の警報（references）が必要です")
    elif references is not None:
        problems.append("references は訂正・取消のときだけ指定します")
    now = time.time()
    if expires_at is not None and expires_at <= now:
        problems.append("有効期限が過去になっています")
    tpl = None
    clean_fields: dict[str, str] = {}
    if template:
        tpl = TEMPLATES.get(template)
        if tpl is None:
            problems.append(f"テンプレート「{template}」はありません（{', '.join(TEMPLATES)}）")
        elif headline or body:
            problems.append("テンプレートを使うときは見出し・本文を直接入力しません（項目で指定します）")
        else:
            try:
                clean_fields = _validate_fields(tpl, fields or {})
            except InvalidAlert as exc:
                problems += exc.problems
            if tpl.name == "lift" and msg_type != "update":
                problems.append("解除は、元の避難情報の画面の「解除する」（alert lift）から作成します")
            if tpl.status and status != tpl.status:
                raise DrillAsActual(
                    [
                        f"テンプレート「{tpl.title}」は{STATUS_LABELS[tpl.status]}専用です。本番として送ることはできません"
                    ]
                )
    elif msg_type != "cancel":
        if not (headline or "").strip():
            problems.append("見出しを入力してください")
        if not (body or "").strip():
            problems.append("本文を入力してください")
    if fields and not template:
        problems.append("項目（fields）はテンプレートと一緒に使います")
    problems += _length_problems("", headline, body)
    clean_translations: dict[str, list[str]] = {}
    for lang, pair in (translations or {}).items():
        h, b = (str(x or "").strip() for x in pair)
        if template or msg_type == "cancel":
            problems.append(
                "言語ごとの文面（translations）は自由文の警報で使います（テンプレートは全言語の文面があります）"
            )
            break
        if lang not in LANGUAGES or lang == "ja":
            problems.append(f"文面の言語「{lang}」は指定できません（{', '.join(x for x in LANGUAGES if x != 'ja')}）")
        elif not h or not b:
            problems.append(f"{LANG_NAMES.get(lang, lang)}の見出しと本文を両方入力してください")
        elif too_long := _length_problems(LANG_NAMES.get(lang, lang) + "の", h, b):
            problems += too_long
        else:
            clean_translations[lang] = [h, b]
    if test_audience and status == "actual":
        raise TestAudienceNotForActual()
    if status == "actual" and not template:
        text = f"{headline or ''} {body or ''}".lower()
        # "exercise" is also plain English ("exercise caution"): only the other markers apply to translations.
        translated = " ".join(f"{h} {b}" for h, b in clean_translations.values()).lower()
        if any(m in text for m in _DRILL_MARKERS) or any(m in translated for m in _DRILL_MARKERS if m != "exercise"):
            raise DrillAsActual(
                [
                    "本文に「訓練」「テスト」などの語があります。訓練・テストの配信は、訓練またはテストとして作成してください（本番では送れません）"
                ]
            )
    if problems:
        raise InvalidAlert(problems)
    try:
        area_codes = resolve_areas(areas) if areas else []
    except InvalidAlert:
        raise
    if msg_type in ("update", "cancel") and ref is not None:
        # A correction or cancel reaches exactly the original's recipients.
        area_codes, langs, topics = ref["areas"], ref["langs"], ref["topics"]
        status = ref["status"]
        test_audience = bool(ref.get("test_audience"))
        if msg_type == "update" and tpl is None and ref["template"] and not headline:
            tpl = TEMPLATES[ref["template"]]
            clean_fields = _validate_fields(tpl, {**ref["fields"], **dict(fields or {})})

    row: dict[str, Any] = {
        "created_at": now,
        "created_by": by,
        "status": status,
        "msg_type": msg_type,
        "references_id": ref["id"] if ref else None,
        "template": tpl.name if tpl else None,
        "fields": clean_fields
        if tpl
        else {"body": (body or "").strip(), **({"translations": clean_translations} if clean_translations else {})},
        "event": tpl.event if tpl else (ref["event"] if ref else "notice"),
        "level": tpl.level if tpl else (ref["level"] if ref else None),
        "severity": tpl.severity if tpl else "Moderate",
        "areas": area_codes,
        "langs": langs,
        "topics": topics,
        "expires_at": expires_at if expires_at is not None else now + DEFAULT_EXPIRY_HOURS * 3600,
        "state": "draft",
        "test_audience": int(bool(test_audience)),
    }
    if tpl is not None:
        row["hazard"] = tpl.hazard or clean_fields.get("hazard")
        if tpl.name == "earthquake" and clean_fields.get("intensity", "") >= "5":
            row["level"] = 4  # strong shaking: disaster mode on
    elif ref is not None:
        row["hazard"] = ref["hazard"]
    texts = _texts_for(row, (headline or "").strip(), (body or "").strip())
    row["headline"] = texts.get("ja", next(iter(texts.values())))[0] if msg_type != "cancel" else ref["headline"]
    ref_texts = _texts_for(ref) if ref is not None else {}
    if msg_type == "cancel":
        texts = {lang: ("", (body or "").strip()) for lang in (ref_texts or {"ja": None})}
    rendered = {
        lang: _compose(
            lang,
            status,
            msg_type,
            h,
            b,
            (ref_texts.get(lang) or ref_texts.get("ja") or ("",))[0] if ref else None,
            lift=row["template"] == "lift",
        )
        for lang, (h, b) in texts.items()
    }
    alert_id = alert_store.insert_alert(db, row, rendered)
    audit.record(
        db,
        by,
        "alert.create",
        f"alert:{alert_id}",
        {
            "status": status,
            "msg_type": msg_type,
            "template": row["template"],
            "areas": area_codes,
            "langs": langs,
            "topics": topics,
            "references": row["references_id"],
            "test_audience": bool(test_audience),
            "texts": sorted(rendered),
        },
        source,
    )
    return alert_id


KIND_LABELS = {"cancel": "取消", "lift": "解除", "update": "訂正"}


def kind_of(alert: Mapping[str, Any]) -> str:
    """alert / update (訂正) / lift (解除) / cancel (取消): a lift is an Update with the lift template."""
    if alert["msg_type"] == "update" and alert.get("template") == "lift":
        return "lift"
    return alert["msg_type"]


def _label(row: dict[str, Any], ref_headlines: Mapping[int, str], area_names: Mapping[str, str]) -> dict[str, Any]:
    """Labels people read (never internal codes): state, status, kind, a title naming the original."""
    row["state_label"] = STATE_LABELS.get(row["state"], row["state"])
    row["status_label"] = STATUS_LABELS[row["status"]]
    row["kind"] = kind_of(row)
    row["kind_label"] = KIND_LABELS.get(row["kind"], "")
    ref = row.get("references_id")
    if row["kind"] in ("cancel", "lift") and ref is not None:
        # A cancellation is never listed as another 【警戒レベル4】: it names what it cancels or lifts.
        row["title"] = f"{row['kind_label']}：#{ref}「{ref_headlines.get(ref, row['headline'])}」"
    elif row["kind"] == "update" and ref is not None:
        row["title"] = f"訂正：#{ref} {row['headline']}"
    else:
        row["title"] = row["headline"]
    row["area_names"] = [area_names.get(code, code) for code in row["areas"]]
    row["lang_names"] = [LANG_NAMES.get(lang, lang) for lang in row["langs"]]
    row["topic_names"] = [TOPIC_LABELS.get(topic, topic) for topic in row["topics"]]
    row["hazard_label"] = HAZARDS.get(row.get("hazard") or "", row.get("hazard") or "")
    return row


def _area_names() -> dict[str, str]:
    try:
        return {a["code"]: a["name"] for a in load_areas()}
    except OSError:
        return {}


def get_alert(db: Database, alert_id: int | None) -> dict[str, Any]:
    """One alert with its labels and per-language messages."""
    row = alert_store.get_alert(db, alert_id) if alert_id is not None else None
    if row is None:
        raise UnknownAlert(alert_id)  # type: ignore[arg-type]
    row["texts"] = alert_store.alert_texts(db, alert_id)
    refs = alert_store.headlines(db, [row["references_id"]] if row["references_id"] else [])
    return _label(row, refs, _area_names())


def list_alerts(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    rows = alert_store.list_alerts(db, limit)
    refs = alert_store.headlines(db, [r["references_id"] for r in rows if r["references_id"]])
    names = _area_names()
    return [_label(row, refs, names) for row in rows]


# Templates whose alerts are always life-safety (besides evacuation orders of level 4 and 5).
LIFE_SAFETY_TEMPLATES = ("shelter_open", "earthquake")


def is_life_safety(alert: Mapping[str, Any]) -> bool:
    """Whether an alert also reaches residents who sent 配信停止 (ordinary notices stopped).

    Actual alerts only: 警戒レベル4 以上 (避難指示, 緊急安全確保), 避難所開設 (its areas) and 地震.
    Drills and tests never override a resident's stop. Corrections, cancellations and lifts go to
    exactly the original's recipients, so they follow the original's rule.
    """
    if alert.get("status") != "actual" or alert.get("msg_type", "alert") != "alert":
        return False
    if alert.get("template") in LIFE_SAFETY_TEMPLATES:
        return True
    return alert.get("event") == "evacuation" and (alert.get("level") or 0) >= 4


def _recipient_groups(
    db: Database, alert: Mapping[str, Any], available: Iterable[str]
) -> dict[tuple[str, str | None], list[str]]:
    """(text lang, resident lang) → user ids, ordered; cancels/updates reuse the original's list."""
    available = list(available)
    groups: dict[tuple[str, str | None], list[str]] = {}
    if alert["msg_type"] in ("update", "cancel"):
        for uid, orig_lang in alert_store.reached_recipients(db, alert["references_id"]):
            key = (text_lang_for(orig_lang, available), orig_lang)
            groups.setdefault(key, []).append(uid)
        return groups
    testers = bool(alert.get("test_audience"))
    for uid, lang, _area in resident_store.iter_recipients(
        db, alert["areas"], alert["langs"], alert["topics"], testers_only=testers, life_safety=is_life_safety(alert)
    ):
        groups.setdefault((text_lang_for(lang, available), lang or "ja"), []).append(uid)
    return groups


# --- the shelter guide that comes with an evacuation alert -----------------------------------------

GUIDE_TEMPLATES = ("evac_level3", "evac_level4", "evac_level5", "shelter_open")
GUIDE_MAX_SHELTERS = 5  # a short list in one message; the location quick reply finds the rest
_STATUS_MARKS = {"open": "🟢", "crowded": "🟠"}


def with_shelter_guide(alert: Mapping[str, Any]) -> bool:
    """Evacuation alerts and shelter openings come with 「近くの避難所」 (and, when actual, the open shelters)."""
    return alert["msg_type"] == "alert" and alert.get("template") in GUIDE_TEMPLATES


def _open_shelters_by_area(db: Database, area_codes: Sequence[str]) -> dict[str | None, list[dict[str, Any]]]:
    """Open (or crowded) shelters per area code; None → those of the alert's areas (or all)."""
    try:
        areas = load_areas()
    except OSError:
        areas = []
    order = {"open": 0, "crowded": 1}
    live = sorted(
        (s for s in shelters.list_shelters(db) if s["status"] in order),
        key=lambda s: (order[s["status"]], s["source_id"]),
    )
    out: dict[str | None, list[dict[str, Any]]] = {None: []}
    for shelter in live:
        codes = shelters.match_area_codes(shelter, areas)
        for code in codes:
            out.setdefault(code, []).append(shelter)
        if not area_codes or set(codes) & set(area_codes):
            out[None].append(shelter)
    return out


def _shelter_guide_message(area_name: str, found: Sequence[Mapping[str, Any]], lang: str) -> dict[str, Any]:
    lines = [t("alert_shelters_intro", lang, area=area_name)]
    for s in found[:GUIDE_MAX_SHELTERS]:
        lines.append(f"{_STATUS_MARKS[s['status']]} {s['name']}【{t('shelter_status_' + s['status'], lang)}】")
        if s.get("address"):
            lines.append(("　" if lang in ("ja", "easy") else "   ") + s["address"])
    if len(found) > GUIDE_MAX_SHELTERS:
        lines.append(t("alert_shelters_more", lang, n=len(found) - GUIDE_MAX_SHELTERS))
    lines.append("")
    lines.append(t("alert_shelters_hint", lang))
    return {"type": "text", "text": _clip("\n".join(lines))}


def _location_quick_reply(lang: str) -> dict[str, Any]:
    label = t("disaster_shelter_label", lang)
    return {"items": [{"type": "action", "action": {"type": "location", "label": label[:20]}}]}


def _shelter_guide_groups(db: Database, alert: Mapping[str, Any]) -> list[tuple[str, list[str], list[dict[str, Any]]]]:
    """Outbox groups per (text language, resident's area): the alert, the open shelters of that
    area (actual alerts only, fixed when delivery starts), and the location quick reply on the
    last message (LINE shows quick replies under the last one). At most 2 of LINE's 5 messages."""
    texts = alert["texts"]
    by_key: dict[tuple[str, str | None], list[str]] = {}
    for uid, lang, area in resident_store.iter_recipients(
        db,
        alert["areas"],
        alert["langs"],
        alert["topics"],
        testers_only=bool(alert.get("test_audience")),
        life_safety=is_life_safety(alert),
    ):
        by_key.setdefault((text_lang_for(lang, texts), area), []).append(uid)
    open_by_area = _open_shelters_by_area(db, alert["areas"]) if alert["status"] == "actual" else {}
    # Area names in the resident's script where the areas file gives one (Midori 1-chome, 绿一丁目).
    named = {a.code: a for a in area_names.load_areas(_config("AREAS_CSV", ROOT / "data" / "areas.csv"))}

    def name(code: str, lang: str) -> str:
        return named[code].display(lang) if code in named else code

    out = []
    for (text_lang, area), ids in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        messages = [dict(m) for m in texts[text_lang]]
        found = open_by_area.get(area, []) if area is not None else open_by_area.get(None, [])
        if found:
            sep = "、" if text_lang in ("ja", "easy", "zh", "zh-Hant") else ", "
            where = name(area, text_lang) if area else sep.join(name(c, text_lang) for c in alert["areas"])
            messages.append(_shelter_guide_message(where or t("area_all_name", text_lang), found, text_lang))
        messages[-1]["quickReply"] = _location_quick_reply(text_lang)
        out.append((text_lang, ids, messages))
    return out


def preview(db: Database, alert_id: int) -> dict[str, Any]:
    """What each language group will receive and how many people: shown before approval."""
    alert = get_alert(db, alert_id)
    texts = alert["texts"]
    if alert["msg_type"] == "alert":
        counts: dict[tuple[str, str], int] = {}
        for lang, n in resident_store.count_recipients_by_lang(
            db,
            alert["areas"],
            alert["langs"],
            alert["topics"],
            testers_only=bool(alert.get("test_audience")),
            life_safety=is_life_safety(alert),
        ).items():
            key = (text_lang_for(lang, texts), lang or "ja")
            counts[key] = counts.get(key, 0) + n
    else:
        counts = {k: len(v) for k, v in _recipient_groups(db, alert, texts).items()}
    groups = [
        {
            "lang": text_lang,
            "resident_lang": resident_lang,
            "count": n,
            "messages": texts[text_lang],
            "fallback_from": resident_lang if resident_lang != text_lang else None,
        }
        for (text_lang, resident_lang), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1] or ""))
    ]
    notes = []
    for g in groups:
        if g["fallback_from"]:
            g["note"] = (
                f"{LANG_NAMES.get(g['fallback_from'], g['fallback_from'])}の文面がないため、"
                f"{g['count']}人には{LANG_NAMES.get(g['lang'], g['lang'])}の文面が届きます"
            )
            notes.append(g["note"])
    if "easy" not in texts and any(g["fallback_from"] for g in groups):
        notes.append("やさしい日本語の文面がありません。外国語の人にも日本語（ふつう）の文面が届きます")
    if alert["msg_type"] == "alert" and is_life_safety(alert):
        ordinary = sum(
            resident_store.count_recipients_by_lang(
                db, alert["areas"], alert["langs"], alert["topics"], testers_only=bool(alert.get("test_audience"))
            ).values()
        )
        stopped = sum(g["count"] for g in groups) - ordinary
        if stopped:
            notes.insert(
                0,
                f"命を守る緊急情報のため、「配信停止」中の人（{stopped}人）にも届きます"
                "（緊急情報も止めた人には届きません）",
            )
    if with_shelter_guide(alert):
        notes.append(
            "「近くの避難所」（位置情報を送るボタン）が付きます"
            + (
                "。本番では、配信開始の時点で開設している避難所の一覧を、受け取る人の地区ごとに添えます"
                if alert["status"] == "actual"
                else ""
            )
        )
    test_audience = bool(alert.get("test_audience"))
    if test_audience:
        n_testers = alert_store.count_testers(db)
        notes.insert(0, f"テスト対象者（登録 {n_testers} 人）のうち、対象の条件に合う人だけに送ります")
    return {
        "alert_id": alert_id,
        "status": alert["status"],
        "status_label": alert["status_label"],
        "msg_type": alert["msg_type"],
        "state": alert["state"],
        "test_audience": test_audience,
        "recipient_count": sum(g["count"] for g in groups),
        "groups": groups,
        "fallbacks": [
            {"resident_lang": g["fallback_from"], "lang": g["lang"], "count": g["count"]}
            for g in groups
            if g["fallback_from"]
        ],
        "notes": notes,
    }


def _same_operator(a: str | None, b: str | None) -> bool:
    """Operator names compared loosely ("Tanaka " is "tanaka", full-width ｔａｎａｋａ too)."""

    def norm(x: str | None) -> str:
        return unicodedata.normalize("NFKC", x or "").strip().casefold()

    return norm(a) == norm(b)


def approve(db: Database, alert_id: int, by: str, source: str = "cli") -> None:
    """Second-person approval (also re-approval of a stale draft)."""
    alert = get_alert(db, alert_id)
    if alert["state"] in ("sending", "sent", "stopped"):
        raise AlreadySent(alert["state"])
    if alert["state"] == "withdrawn":
        raise Withdrawn()
    if not by or _same_operator(by, alert["created_by"]):
        audit.record(db, by or "-", "alert.approve_refused", f"alert:{alert_id}", {"reason": "self"}, source)
        raise SelfApprovalRefused()
    if alert["expires_at"] is not None and alert["expires_at"] <= time.time():
        raise AlertExpired()
    if not alert_store.update_alert(
        db,
        alert_id,
        expect_state=("draft", "approved"),
        state="approved",
        approved_by=by.strip(),
        approved_at=time.time(),
    ):
        raise AlreadySent(get_alert(db, alert_id)["state"])
    audit.record(db, by, "alert.approve", f"alert:{alert_id}", {"status": alert["status"]}, source)


def start_delivery(
    db: Database,
    alert_id: int,
    by: str,
    *,
    stale_minutes: float | None = None,
    batch_size: int = 500,
    source: str = "cli",
) -> None:
    """Fix the recipient list into outbox batches (each with its retry key); the worker sends them."""
    alert = get_alert(db, alert_id)
    if alert["state"] in ("sending", "sent", "stopped"):
        raise AlreadySent(alert["state"])
    if alert["state"] == "withdrawn":
        raise Withdrawn()
    if alert["state"] != "approved" or not alert["approved_by"]:
        raise NotApproved()
    # Only a cancellation with nothing but its fixed text is sent by one person.
    fixed_cancel = alert["msg_type"] == "cancel" and not alert["fields"].get("body")
    if not fixed_cancel and _same_operator(alert["approved_by"], alert["created_by"]):
        raise SelfApprovalRefused()
    now = time.time()
    if alert["expires_at"] is not None and alert["expires_at"] <= now:
        raise AlertExpired()
    stale = float(stale_minutes if stale_minutes is not None else _config("ALERT_STALE_MINUTES", DEFAULT_STALE_MINUTES))
    if not fixed_cancel and now - alert["approved_at"] > stale * 60:
        raise AlertStale(stale)
    if alert["msg_type"] in ("cancel", "update"):
        # Nothing more goes out about an alert that was cancelled (a lift or correction drafted
        # before, or a second cancellation racing the first).
        existing = alert_store.cancels_of(db, alert["references_id"])
        if existing:
            raise AlreadyCancelled(existing[0])
    if alert["msg_type"] == "cancel":
        # The mistaken alert's batches not attempted yet are withdrawn: nobody else gets it.
        withdrawn = alert_store.withdraw_pending(db, alert["references_id"])
        if withdrawn:
            audit.record(
                db, by, "alert.withdraw_unsent", f"alert:{alert['references_id']}", {"recipients": withdrawn}, source
            )
    if with_shelter_guide(alert):
        outbox = _shelter_guide_groups(db, alert)
    else:
        groups = _recipient_groups(db, alert, alert["texts"])
        by_text: dict[str, list[str]] = {}
        for (text_lang, _), ids in groups.items():
            by_text.setdefault(text_lang, []).extend(ids)
        outbox = sorted(by_text.items())
    try:
        total = alert_store.create_outbox(db, alert_id, outbox, by, batch_size=batch_size, now=now)
    except LookupError:
        raise AlreadySent(get_alert(db, alert_id)["state"]) from None
    audit.record(db, by, "alert.send", f"alert:{alert_id}", {"recipients": total, "status": alert["status"]}, source)
    if alert["msg_type"] == "cancel":
        # Other cancellation drafts of the same alert (free text still awaiting approval) are moot now.
        for other in alert_store.withdraw_drafts_referencing(db, alert["references_id"], "cancel", keep=alert_id):
            audit.record(db, by, "alert.withdraw", f"alert:{other}", {"reason": "already cancelled"}, source)


def resume(db: Database, alert_id: int, by: str, source: str = "cli") -> bool:
    """Continue an alert stopped by the monthly quota (after the operator raised the limit).

    An alert that expired meanwhile is not resumed: its unsent part is withdrawn instead.
    """
    alert = get_alert(db, alert_id)
    if alert["state"] == "stopped" and alert["expires_at"] is not None and alert["expires_at"] <= time.time():
        alert_store.expire_overdue(db, EXPIRED_MESSAGE)
        audit.record(db, by, "alert.resume_refused", f"alert:{alert_id}", {"reason": "expired"}, source)
        raise AlertExpired()
    ok = alert_store.resume_alert(db, alert_id)
    if ok:
        audit.record(db, by, "alert.resume", f"alert:{alert_id}", None, source)
    return ok


def _cancel_messages(ref: Mapping[str, Any], body: str = "") -> dict[str, list[dict[str, Any]]]:
    """The exact messages of a 取消 of `ref`, per language (the fixed text, plus `body` if given)."""
    ref_texts = _texts_for(ref)
    return {lang: _compose(lang, ref["status"], "cancel", "", body, h) for lang, (h, _) in ref_texts.items()}


def cancel_preview(db: Database, alert_id: int) -> dict[str, Any]:
    """What a 取消 of a sent alert sends and to how many people: shown before the operator confirms.

    `groups` are the fixed text per language with the number of people who get it (exactly those
    the alert may have reached); `unsent` recipients have not been sent the alert yet: their
    part is withdrawn instead, and they get nothing.
    """
    alert = get_alert(db, alert_id)
    _check_cancellable(db, alert)
    messages = _cancel_messages(alert)
    counts: dict[str, int] = {}
    for _uid, orig_lang in alert_store.reached_recipients(db, alert_id):
        lang = text_lang_for(orig_lang, messages)
        counts[lang] = counts.get(lang, 0) + 1
    groups = [
        {"lang": lang, "count": n, "messages": messages[lang], "fallback_from": None}
        for lang, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {
        "alert_id": alert_id,
        "title": alert["title"],
        "status": alert["status"],
        "status_label": alert["status_label"],
        "recipient_count": sum(counts.values()),
        "unsent": alert_store.unsent_count(db, alert_id),
        "groups": groups,
        "texts": messages,
    }


def _check_cancellable(db: Database, alert: Mapping[str, Any]) -> None:
    if alert["msg_type"] == "cancel":
        raise AlertError("取消の配信はさらに取り消せません。")
    if alert["state"] == "withdrawn":
        raise Withdrawn()
    existing = alert_store.cancels_of(db, alert["id"])
    if existing:
        raise AlreadyCancelled(existing[0])


def cancel(
    db: Database,
    alert_id: int,
    by: str,
    body: str | None = None,
    source: str = "cli",
    *,
    confirmed: bool = False,
) -> int:
    """取消 (the alert was a mistake): a Cancel referencing it, to exactly the people it reached.

    - A draft or approved alert that was never sent is simply withdrawn; its own id is returned.
    - The fixed text (`body` empty) needs no second person — speed matters when a wrong alert
      went out — but `confirmed` must say the operator saw `cancel_preview` (exact text and
      count); delivery starts at once and the unsent part of the original is withdrawn.
    - Any free text (`body`) makes the cancellation a draft that another person approves, like a
      correction: one person alone can never send words of their own.
    """
    alert = get_alert(db, alert_id)
    by = (by or "").strip()
    if alert["state"] == "withdrawn":
        raise Withdrawn()
    if alert["state"] in ("draft", "approved"):
        # Any unsent draft (a cancellation or lift draft too) is simply withdrawn.
        if not alert_store.update_alert(db, alert_id, expect_state=("draft", "approved"), state="withdrawn"):
            raise AlreadySent(get_alert(db, alert_id)["state"])
        audit.record(db, by or "-", "alert.withdraw", f"alert:{alert_id}", None, source)
        return alert_id
    _check_cancellable(db, alert)
    body = (body or "").strip()
    if body:
        cancel_id = create_alert(
            db, by=by, body=body, msg_type="cancel", references=alert_id, status=alert["status"], source=source
        )
        audit.record(db, by, "alert.cancel_draft", f"alert:{alert_id}", {"cancel_alert": cancel_id}, source)
        return cancel_id
    if not confirmed:
        raise CancelNotConfirmed()
    cancel_id = create_alert(db, by=by, msg_type="cancel", references=alert_id, status=alert["status"], source=source)
    alert_store.update_alert(db, cancel_id, state="approved", approved_by=by, approved_at=time.time())
    audit.record(
        db,
        by,
        "alert.cancel",
        f"alert:{alert_id}",
        {"cancel_alert": cancel_id, "recipients": cancel_preview_count(db, alert_id)},
        source,
    )
    try:
        start_delivery(db, cancel_id, by, source=source)
    except AlertError:
        # Another operator's cancellation went out first: this one is withdrawn, never left approved.
        alert_store.update_alert(db, cancel_id, expect_state=("approved",), state="withdrawn")
        raise
    return cancel_id


def cancel_preview_count(db: Database, alert_id: int) -> int:
    return len(alert_store.reached_recipients(db, alert_id))


LIFTABLE = ("evac_level3", "evac_level4", "evac_level5")


def lift(db: Database, alert_id: int, by: str, source: str = "cli") -> int:
    """解除 (the order ends; it was right): an Update draft referencing the order, in every language.

    Approved by a second person and sent like any alert, to exactly the people the order reached.
    """
    alert = get_alert(db, alert_id)
    if alert["msg_type"] == "cancel" or alert["template"] == "lift":
        raise AlertError("解除できるのは避難情報の配信です。")
    if alert["template"] not in LIFTABLE:
        raise AlertError(
            "解除できるのは避難情報（警戒レベル3〜5）の配信です。ほかの配信は「訂正を作る」か「取り消す」を使ってください。"
        )
    if alert["state"] not in ("sending", "sent", "stopped"):
        raise AlertError("まだ送信していない避難情報は、解除ではなく取り下げてください。")
    existing = alert_store.cancels_of(db, alert_id)
    if existing:
        raise AlreadyCancelled(existing[0])
    for other in alert_store.updates_of(db, alert_id):
        if other["template"] == "lift" and other["state"] != "withdrawn":
            raise AlertError(f"この避難情報の解除はすでに作成されています（#{other['id']}）。")
        if other["template"] != "lift" and other["state"] in ("sending", "sent", "stopped"):
            raise AlertError(f"この避難情報は訂正されています。訂正の配信（#{other['id']}）を解除してください。")
    fields = {
        "areas": alert["fields"].get("areas", ""),
        "order": alert["template"],
        "hazard": alert["hazard"] or alert["fields"].get("hazard", ""),
    }
    lift_id = create_alert(
        db,
        by=by,
        template="lift",
        fields=fields,
        msg_type="update",
        references=alert_id,
        status=alert["status"],
        source=source,
    )
    audit.record(db, by, "alert.lift_draft", f"alert:{alert_id}", {"lift_alert": lift_id}, source)
    return lift_id


def correct(
    db: Database,
    alert_id: int,
    by: str,
    *,
    headline: str | None = None,
    body: str | None = None,
    fields: Mapping[str, Any] | None = None,
    source: str = "cli",
) -> int:
    """An Update draft referencing a sent alert, for the same recipients; needs approval like any alert."""
    alert = get_alert(db, alert_id)
    if alert["state"] not in ("sending", "sent", "stopped"):
        raise AlertError("まだ送信していない警報は、訂正ではなく取り下げて作り直してください。")
    template = None
    if alert["template"] and headline is None and body is None:
        # Template correction: only the changed fields are given; the rest stays as sent.
        template, fields = alert["template"], {**alert["fields"], **dict(fields or {})}
    else:
        # Free-text correction: an unchanged headline (or free-text body) is taken from the original.
        headline = headline if headline is not None else alert["headline"]
        body = body if body is not None else alert["fields"].get("body", "")
    return create_alert(
        db,
        by=by,
        headline=headline,
        body=body,
        fields=fields,
        template=template,
        msg_type="update",
        references=alert_id,
        status=alert["status"],
        source=source,
    )


def status(db: Database, alert_id: int) -> dict[str, Any]:
    """Delivery progress: total / sent / pending / failed recipients, state, and what to do."""
    alert = get_alert(db, alert_id)
    counts = alert_store.delivery_counts(db, alert_id)
    out = {
        "id": alert_id,
        "total": counts["total"],
        "sent": counts["sent"],
        "pending": counts["pending"],
        "failed": counts["failed"],
        "withdrawn": counts["withdrawn"],
        "batches": counts["batches"],
        "attempts": counts["attempts"],
        "state": alert["state"],
        "state_label": alert["state_label"],
        "status": alert["status"],
        "msg_type": alert["msg_type"],
        "kind": alert["kind"],
        "kind_label": alert["kind_label"],
        "message": alert["stop_reason"],
        "cancelled_by": (alert_store.cancels_of(db, alert_id) or [None])[0],
        "lifted_by": next(
            (
                u["id"]
                for u in alert_store.updates_of(db, alert_id)
                if u["template"] == "lift" and u["state"] in ("sending", "sent", "stopped")
            ),
            None,
        ),
    }
    return out


def active_alerts_for(db: Database, area_code: str | None) -> list[dict[str, Any]]:
    """Actual alerts of level ≥3 or shelter openings, live and not cancelled, covering the area."""
    out = []
    for row in alert_store.active_alert_rows(db):
        if not ((row["level"] or 0) >= 3 or row["template"] == "shelter_open"):
            continue
        if row["areas"] and area_code is not None and area_code not in row["areas"]:
            continue
        texts = _texts_for(row)
        out.append(
            {
                "id": row["id"],
                "template": row["template"],
                "event": row["event"],
                "level": row["level"],
                "hazard": row["hazard"],
                "areas": row["areas"],
                "headline": row["headline"],
                "headlines": {lang: h for lang, (h, _) in texts.items()},
                "created_at": row["created_at"],
                "expires_at": row["expires_at"],
            }
        )
    return out


# --- the staff test audience -------------------------------------------------------------------


def _tester_ref(user_id: str) -> str:
    """Audit target for a tester: a pseudonym, so the append-only log keeps no LINE user id."""
    from bot.context import hash_user

    return "tester:" + hash_user(user_id, str(_config("SECRET_KEY", "")))


def _check_user_id(user_id: str) -> str:
    user_id = (user_id or "").strip()
    if not user_id.startswith("U") or len(user_id) > 64 or not user_id[1:].replace("_", "").replace("-", "").isalnum():
        raise InvalidAlert([f"LINE のユーザーID（U で始まる英数字）を指定してください: {user_id!r}"])
    return user_id


def add_tester(db: Database, user_id: str, by: str, note: str | None = None, source: str = "cli") -> bool:
    """Put a staff phone (LINE user id) in the test audience; False when it was already there (note updated)."""
    user_id = _check_user_id(user_id)
    if not (by or "").strip():
        raise InvalidAlert(["登録する担当者を入力してください"])
    note = (note or "").strip()[:FIELD_MAX] or None
    created = alert_store.add_tester(db, user_id, by.strip(), note)
    audit.record(
        db,
        by.strip(),
        "alert.tester_add" if created else "alert.tester_update",
        _tester_ref(user_id),
        {"note": note},
        source,
    )
    return created


def remove_tester(db: Database, user_id: str, by: str, source: str = "cli") -> bool:
    """Take a LINE user id out of the test audience; False when it was not in it."""
    user_id = (user_id or "").strip()
    removed = alert_store.remove_tester(db, user_id)
    if removed:
        audit.record(db, (by or "-").strip(), "alert.tester_remove", _tester_ref(user_id), None, source)
    return removed


def list_testers(db: Database) -> list[dict[str, Any]]:
    """The test audience with whether each id currently follows the account (is a subscriber)."""
    return alert_store.list_testers(db)
