"""What can go wrong with an alert: `AlertError` subclasses whose str() is a Japanese sentence an
operator can act on (raised deep, turned into messages at the edge), and the stop messages
the delivery worker records."""

from __future__ import annotations

from collections.abc import Sequence

from store.vocab import ALERT_STATE


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
            f"この警報はすでに配信済みまたは配信中です（状態: {ALERT_STATE.label(state)}）。同じ警報は二度送信しません。"
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
