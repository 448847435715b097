"""Strings of the rich menu's own commands (避難情報, 安否・連絡先, 災害時のよくある質問)."""

MESSAGES: dict[str, dict[str, str]] = {
    "ja": {
        "menu_evac_none": "いま、お住まいの地域に出ている避難情報はありません。\n最新の情報は区のホームページでも確認できます。\n{contact}",
        "menu_evac_list": "お住まいの地域に出ている避難情報です。\n{list}\n\n近くの開いている避難所は、下の「位置情報を送る」で探せます。",
        "menu_safety": "安否の確認・連絡\n・災害用伝言ダイヤル：171（録音は 1、再生は 2）\n・災害用伝言板（web171）：https://www.web171.jp/\n・区の災害対策本部：{phone}\nけが人や火事は 119 へ。",
        "menu_disaster_faq": "災害時によくある質問です。選んでください。\n{list}",
    },
    "easy": {
        "menu_evac_none": "いま、あなたの 地域（ちいき）に 避難（ひなん）の 情報（じょうほう）は ありません。\n{contact}",
        "menu_evac_list": "あなたの 地域（ちいき）の 避難（ひなん）の 情報（じょうほう）です。\n{list}\n\n近（ちか）くの 避難所（ひなんじょ）は、下（した）の ボタンで 場所（ばしょ）を 送（おく）ると わかります。",
        "menu_safety": "家族（かぞく）が 無事（ぶじ）か たしかめる\n・災害用伝言（さいがいようでんごん）ダイヤル：171\n・web171：https://www.web171.jp/\n・区（く）の 災害対策本部（さいがいたいさくほんぶ）：{phone}\nけがや 火事（かじ）は 119。",
        "menu_disaster_faq": "災害（さいがい）の ときの よくある 質問（しつもん）です。えらんでください。\n{list}",
    },
    "en": {
        "menu_evac_none": "There is no evacuation information for your area right now.\n{contact}",
        "menu_evac_list": "Evacuation information for your area:\n{list}\n\nTo find the nearest open shelter, send your location with the button below.",
        "menu_safety": "Safety confirmation and contacts\n- Disaster message dial: 171 (1 to record, 2 to listen)\n- web171 message board: https://www.web171.jp/\n- Ward disaster headquarters: {phone}\nFor injuries or fire, call 119.",
        "menu_disaster_faq": "Frequent questions in a disaster. Please choose one.\n{list}",
    },
    "zh": {
        "menu_evac_none": "目前您所在地区没有避难信息。\n{contact}",
        "menu_evac_list": "您所在地区的避难信息：\n{list}\n\n用下方按钮发送位置，可查找附近开放的避难所。",
        "menu_safety": "确认安全与联系方式\n・灾害留言电话：171（录音按1，收听按2）\n・灾害留言板 web171：https://www.web171.jp/\n・区灾害对策本部：{phone}\n受伤或火灾请拨打119。",
        "menu_disaster_faq": "灾害时的常见问题，请选择。\n{list}",
    },
    "zh-Hant": {
        "menu_evac_none": "目前您所在地區沒有避難資訊。\n{contact}",
        "menu_evac_list": "您所在地區的避難資訊：\n{list}\n\n用下方按鈕傳送位置，可查詢附近開放的避難所。",
        "menu_safety": "確認安全與聯絡方式\n・災害留言電話：171（錄音按1，收聽按2）\n・災害留言板 web171：https://www.web171.jp/\n・區災害對策本部：{phone}\n受傷或火災請撥打119。",
        "menu_disaster_faq": "災害時的常見問題，請選擇。\n{list}",
    },
    "ko": {
        "menu_evac_none": "현재 거주 지역에 발령된 대피 정보는 없습니다.\n{contact}",
        "menu_evac_list": "거주 지역의 대피 정보입니다.\n{list}\n\n아래 버튼으로 위치를 보내면 가까운 대피소를 찾을 수 있습니다.",
        "menu_safety": "안부 확인·연락처\n・재해용 전언 다이얼: 171 (녹음 1, 재생 2)\n・재해용 전언판 web171: https://www.web171.jp/\n・구 재해대책본부: {phone}\n부상이나 화재는 119.",
        "menu_disaster_faq": "재난 시 자주 묻는 질문입니다. 선택해 주세요.\n{list}",
    },
    "vi": {
        "menu_evac_none": "Hiện không có thông tin sơ tán cho khu vực của bạn.\n{contact}",
        "menu_evac_list": "Thông tin sơ tán cho khu vực của bạn:\n{list}\n\nGửi vị trí bằng nút bên dưới để tìm nơi sơ tán gần nhất đang mở.",
        "menu_safety": "Xác nhận an toàn và liên lạc\n- Tổng đài nhắn tin thảm họa: 171 (ghi âm: 1, nghe: 2)\n- Bảng tin web171: https://www.web171.jp/\n- Ban chỉ đạo thiên tai của quận: {phone}\nBị thương hoặc hỏa hoạn: gọi 119.",
        "menu_disaster_faq": "Câu hỏi thường gặp khi có thiên tai. Hãy chọn.\n{list}",
    },
    "pt": {
        "menu_evac_none": "No momento não há informações de evacuação para a sua área.\n{contact}",
        "menu_evac_list": "Informações de evacuação para a sua área:\n{list}\n\nEnvie sua localização pelo botão abaixo para encontrar o abrigo aberto mais próximo.",
        "menu_safety": "Confirmação de segurança e contatos\n- Disque mensagens de desastre: 171 (gravar: 1, ouvir: 2)\n- Quadro de mensagens web171: https://www.web171.jp/\n- Central de desastres do distrito: {phone}\nFeridos ou incêndio: ligue 119.",
        "menu_disaster_faq": "Perguntas frequentes em desastres. Escolha uma.\n{list}",
    },
}
