"""Core resident-facing strings: greeting, help, FAQ answers, fallback, feedback."""

MESSAGES: dict[str, dict[str, str]] = {
    "ja": {
        "greeting": "こんにちは。みどり区の窓口チャットです。\nごみ、住民票、マイナンバーカード、子育て、防災など、区役所への質問を文章で送ってください。\n使い方は「ヘルプ」と送ってください。",
        "thanks": "どういたしまして。ほかにも質問があれば、いつでも送ってください。",
        "help": "使い方\n・質問を文章で送ってください（例：「粗大ごみを出したい」「住民票をコンビニで取りたい」）。\n・候補が出たら、ボタンを押して選んでください。\n・「設定」で地域・言語・受け取る情報を変更できます。\n・位置情報を送ると、近くの避難所をお知らせします。\n・「配信停止」でお知らせを止められます。",
        "fallback": "申し訳ありません。その質問にはお答えできませんでした。\n言葉を変えて、もう一度送っていただくか、下記にお問い合わせください。\n{contact}",
        "contact_line": "☎ {phone}（{hours}）\n🌐 {url}",
        "suggest_intro": "もしかして、次のご質問ですか？ 当てはまるものを選んでください。\n{list}",
        "suggest_none_label": "どれも違う",
        "suggest_none_reply": "お役に立てずすみません。言葉を変えて、もう一度送ってください。\n{contact}",
        "answer_more": "▼詳しくはこちら\n{url}",
        "answer_contact": "▼お問い合わせ\n{contact}",
        "feedback_ask": "この回答で解決しましたか？",
        "feedback_yes": "解決した",
        "feedback_no": "解決しない",
        "feedback_thanks": "ご回答ありがとうございました。",
        "feedback_sorry": "お役に立てず申し訳ありません。ご意見は回答の改善に使わせていただきます。\nお急ぎの場合は、こちらにお問い合わせください。\n{contact}",
        "faq_gone": "その質問の回答は更新されました。お手数ですが、もう一度質問を送ってください。",
        "unsupported": "申し訳ありません。文字で質問を送ってください。位置情報を送ると近くの避難所をお知らせします。",
        "error": "申し訳ありません。ただいま回答できませんでした。しばらくしてからもう一度お試しください。",
        "translation_missing": "",
    },
}
