"""What a resident reads when an answer comes late, or too late to give."""

MESSAGES: dict[str, dict[str, str]] = {
    "ja": {
        "late_note": "お待たせしました。お返事が遅くなり申し訳ありません。",
        "expired_apology": "お返事が大変遅くなり申し訳ありません。時間がたったため、お送りいただいた内容にはお答えできませんでした。お手数ですが、もう一度送ってください。",
    },
    "easy": {
        "late_note": "お待（ま）たせしました。お返事（へんじ）が 遅（おそ）くなって ごめんなさい。",
        "expired_apology": "お返事（へんじ）が とても 遅（おそ）くなって ごめんなさい。答（こた）えられませんでした。もう一度（いちど） 送（おく）ってください。",
    },
    "en": {
        "late_note": "Sorry to keep you waiting. Here is our answer.",
        "expired_apology": "We are sorry: our reply is very late, and we could not answer your message. Please send it again.",
    },
    "zh": {
        "late_note": "让您久等了，回复晚了，非常抱歉。",
        "expired_apology": "非常抱歉，回复太晚了，未能回答您发送的内容。请再发送一次。",
    },
    "zh-Hant": {
        "late_note": "讓您久等了，回覆晚了，非常抱歉。",
        "expired_apology": "非常抱歉，回覆太晚了，未能回答您傳送的內容。請再傳送一次。",
    },
    "ko": {
        "late_note": "기다리게 해서 죄송합니다. 답변이 늦었습니다.",
        "expired_apology": "답변이 너무 늦어 죄송합니다. 보내주신 내용에 답변하지 못했습니다. 다시 한 번 보내 주세요.",
    },
    "vi": {
        "late_note": "Xin lỗi đã để bạn chờ lâu. Đây là câu trả lời.",
        "expired_apology": "Xin lỗi, chúng tôi trả lời quá muộn và không thể trả lời tin nhắn của bạn. Vui lòng gửi lại.",
    },
    "pt": {
        "late_note": "Desculpe a demora. Aqui está a resposta.",
        "expired_apology": "Pedimos desculpas: a resposta atrasou muito e não conseguimos responder à sua mensagem. Envie-a novamente, por favor.",
    },
}
