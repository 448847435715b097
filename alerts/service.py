"""Emergency alerts, one import for callers (console, CLI, bot, tests): the public names of the rooms.

Modelled on CAP 1.2: status (actual / exercise / test), msg_type (alert / update / cancel
referencing the original), event, severity, per-language headline and body, target areas,
languages and topics, expiry. Where each part lives:

- `alerts.vocab`      limits, hazards and language names (states and statuses: store/vocab.py)
- `alerts.errors`     `AlertError` subclasses with Japanese messages an operator can act on
- `alerts.templates`  template shapes; their words in `templates.toml` (translators edit it)
- `alerts.areas`      the ward's areas from `AREAS_CSV`
- `alerts.render`     texts per language, the exact LINE messages, labels
- `alerts.drafts`     `create_alert` (nothing is sent)
- `alerts.records`    reading alerts, delivery progress, live alerts of an area
- `alerts.audience`   who receives what, and the preview before approval
- `alerts.guide`      the shelter guide that comes with evacuation alerts
- `alerts.lifecycle`  approve, cancel (取消), lift (解除), correct (訂正)
- `alerts.delivery`   start and resume delivery (outbox batches); `alerts.worker` sends them
- `alerts.testers`    the staff test audience
"""

from __future__ import annotations

from alerts.areas import resolve_areas, ward_areas
from alerts.audience import LIFE_SAFETY_TEMPLATES, is_life_safety, preview
from alerts.delivery import resume, start_delivery
from alerts.drafts import create_alert
from alerts.errors import (
    EXPIRED_MESSAGE,
    QUOTA_MESSAGE,
    AlertError,
    AlertExpired,
    AlertStale,
    AlreadyCancelled,
    AlreadySent,
    CancelNotConfirmed,
    DrillAsActual,
    InvalidAlert,
    NotApproved,
    QuotaExhausted,
    SelfApprovalRefused,
    TestAudienceNotForActual,
    UnknownAlert,
    Withdrawn,
)
from alerts.guide import GUIDE_MAX_SHELTERS, GUIDE_TEMPLATES, with_shelter_guide
from alerts.lifecycle import LIFTABLE, approve, cancel, cancel_preview, cancel_preview_count, correct, lift
from alerts.records import active_alerts_for, get_alert, list_alerts, status
from alerts.render import AlertView, kind_of, text_lang_for
from alerts.templates import INTENSITY_NAMES, TEMPLATES, Field, Template
from alerts.testers import add_tester, list_testers, remove_tester
from alerts.vocab import (
    BODY_MAX,
    DEFAULT_EXPIRY_HOURS,
    DEFAULT_STALE_MINUTES,
    FIELD_MAX,
    HAZARDS,
    HEADLINE_MAX,
    INTENSITIES,
    TEXT_MAX,
)

__all__ = [
    "BODY_MAX",
    "DEFAULT_EXPIRY_HOURS",
    "DEFAULT_STALE_MINUTES",
    "EXPIRED_MESSAGE",
    "FIELD_MAX",
    "GUIDE_MAX_SHELTERS",
    "GUIDE_TEMPLATES",
    "HAZARDS",
    "HEADLINE_MAX",
    "INTENSITIES",
    "INTENSITY_NAMES",
    "LIFE_SAFETY_TEMPLATES",
    "LIFTABLE",
    "QUOTA_MESSAGE",
    "TEMPLATES",
    "TEXT_MAX",
    "AlertError",
    "AlertView",
    "AlertExpired",
    "AlertStale",
    "AlreadyCancelled",
    "AlreadySent",
    "CancelNotConfirmed",
    "DrillAsActual",
    "Field",
    "InvalidAlert",
    "NotApproved",
    "QuotaExhausted",
    "SelfApprovalRefused",
    "Template",
    "TestAudienceNotForActual",
    "UnknownAlert",
    "Withdrawn",
    "active_alerts_for",
    "add_tester",
    "approve",
    "cancel",
    "cancel_preview",
    "cancel_preview_count",
    "correct",
    "create_alert",
    "get_alert",
    "is_life_safety",
    "kind_of",
    "lift",
    "list_alerts",
    "list_testers",
    "preview",
    "remove_tester",
    "resolve_areas",
    "ward_areas",
    "resume",
    "start_delivery",
    "status",
    "text_lang_for",
    "with_shelter_guide",
]
