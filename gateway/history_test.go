package gateway_test

import "go.mau.fi/whatsmeow/proto/waWeb"

func nilWebMsg() *waWeb.WebMessageInfo { return &waWeb.WebMessageInfo{} }
