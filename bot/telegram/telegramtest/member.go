package telegramtest

import (
	"time"

	"github.com/go-telegram/bot/models"
)

// Blocked and unblocked are what a person's private chat reports in a
// my_chat_member update (BlockUpdate).
const (
	StatusBlocked   = models.ChatMemberTypeBanned // "kicked": the person blocked the bot
	StatusUnblocked = models.ChatMemberTypeMember // "member": they let it write again
)

// BlockUpdate is the my_chat_member update Telegram sends when the person
// in private chat blocks the bot (StatusBlocked) or unblocks it
// (StatusUnblocked). The chat id is the person's user id, as on Telegram.
func BlockUpdate(chat int64, status models.ChatMemberType) *models.Update {
	bot := &models.User{ID: BotID, IsBot: true, FirstName: "Bot"}
	blocked := models.ChatMember{Type: models.ChatMemberTypeBanned, Banned: &models.ChatMemberBanned{User: bot}}
	member := models.ChatMember{Type: models.ChatMemberTypeMember, Member: &models.ChatMemberMember{User: bot}}
	old, now := member, blocked
	if status != StatusBlocked {
		old, now = blocked, member
	}
	return &models.Update{MyChatMember: &models.ChatMemberUpdated{
		Chat:          models.Chat{ID: chat, Type: models.ChatTypePrivate},
		From:          models.User{ID: chat, FirstName: "P"},
		Date:          int(time.Now().Unix()),
		OldChatMember: old,
		NewChatMember: now,
	}}
}
