package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
)

// maxPartUnits is the longest part Send sends, in UTF-16 code units (how
// Telegram counts). Telegram allows 4096; the margin keeps clear of any
// difference in counting after Telegram trims the text.
const maxPartUnits = 4000

// maxDeleteIDs is the most message ids deleteMessages takes at once.
const maxDeleteIDs = 100

// inlineKeyboard and inlineButton are the reply markup Send sends. Library
// trap: models.InlineKeyboardButton always encodes an empty copy_text
// object, and Telegram wants exactly one optional field per button.
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// noPreview turns link previews off: a preview card draws the eye on a
// screen someone else may see.
var noPreview = &models.LinkPreviewOptions{IsDisabled: new(true)}

// Send sends msg to the chat address as plain text (no parse_mode, so what
// a person typed and is echoed back is never read as markup), split at
// paragraph, line or word boundaries into parts Telegram accepts, with the
// options as one button per row under the last part. It returns the last
// part's message id. If a later part fails, the earlier ones were sent and
// a retry sends them again. Every part goes without a link preview, silently
// when msg.Silent and protected from forwarding and saving when
// msg.Protect. Errors are *bot.SendError.
func (a *Adapter) Send(ctx context.Context, address string, msg bot.Outbound) (int64, error) {
	chat, err := parseAddress(address)
	if err != nil {
		return 0, &bot.SendError{Err: err}
	}
	var markup *inlineKeyboard
	if len(msg.Options) > 0 {
		if markup, err = keyboard(msg.Prompt, msg.Options); err != nil {
			return 0, &bot.SendError{Err: fmt.Errorf("telegram: %w", err)}
		}
	}
	parts := splitText(strings.ToValidUTF8(msg.Text, "\uFFFD"), maxPartUnits)
	if len(parts) == 0 {
		return 0, &bot.SendError{Err: errors.New("telegram: message text is empty")}
	}
	ids := make([]int, 0, len(parts))
	for i, part := range parts {
		p := &tgbot.SendMessageParams{
			ChatID: chat, Text: part,
			DisableNotification: msg.Silent, ProtectContent: msg.Protect,
			LinkPreviewOptions: noPreview,
		}
		if i == len(parts)-1 && markup != nil {
			p.ReplyMarkup = markup
		}
		if err := a.wait(ctx, address); err != nil {
			return 0, err
		}
		m, err := a.tg.SendMessage(ctx, p)
		if err != nil {
			return 0, a.sendError(address, "sendMessage", err)
		}
		ids = append(ids, m.ID)
	}
	if msg.Ephemeral {
		a.deleteLater(ctx, chat, ids)
	}
	return int64(ids[len(ids)-1]), nil
}

// Clear deletes the messages ids from the chat address, up to 100 per
// call. Telegram only deletes messages under 48 hours old: when a batch
// fails, its messages are deleted one by one and those that still fail
// are counted in the log and otherwise ignored.
func (a *Adapter) Clear(ctx context.Context, address string, ids []int64) error {
	chat, err := parseAddress(address)
	if err != nil {
		return &bot.SendError{Err: err}
	}
	var msgIDs []int
	for _, id := range ids {
		if id > 0 && id <= 1<<31-1 {
			msgIDs = append(msgIDs, int(id))
		}
	}
	slices.Sort(msgIDs)
	msgIDs = slices.Compact(msgIDs)
	failed, err := a.deleteMessages(ctx, chat, msgIDs)
	if failed > 0 {
		a.log.Info("telegram messages not deleted", "count", failed, "total", len(msgIDs))
	}
	return err
}

// deleteMessages deletes ids in batches, falling back to one at a time for
// a batch Telegram refuses (400). It returns how many could not be deleted,
// and an error for a failure that is not about one message (blocked, rate
// limited, network). Deletions count against the global rate only: they
// are no messages to the chat, and holding them to the chat's rate would
// delay the message that follows a clear.
func (a *Adapter) deleteMessages(ctx context.Context, chat int64, ids []int) (failed int, err error) {
	address := strconv.FormatInt(chat, 10)
	// del waits for the global rate and makes one call: refused is a 400
	// (Telegram will not delete that), err any other failure.
	del := func(method string, call func() (bool, error)) (refused bool, err error) {
		if err := a.wait(ctx, ""); err != nil {
			return false, err
		}
		_, err = call()
		if err != nil && !errors.Is(err, tgbot.ErrorBadRequest) {
			return false, a.sendError(address, method, err)
		}
		return err != nil, nil
	}
	for batch := range slices.Chunk(ids, maxDeleteIDs) {
		refused, err := del("deleteMessages", func() (bool, error) {
			return a.tg.DeleteMessages(ctx, &tgbot.DeleteMessagesParams{ChatID: chat, MessageIDs: batch})
		})
		if err != nil {
			return failed, err
		}
		if !refused {
			continue
		}
		for _, id := range batch {
			refused, err := del("deleteMessage", func() (bool, error) {
				return a.tg.DeleteMessage(ctx, &tgbot.DeleteMessageParams{ChatID: chat, MessageID: id})
			})
			if err != nil {
				return failed, err
			}
			if refused {
				failed++
			}
		}
	}
	return failed, nil
}

// deleteLater deletes an ephemeral message after EphemeralDelay, or at
// once when Run ends, in a goroutine bounded by a timeout.
func (a *Adapter) deleteLater(ctx context.Context, chat int64, ids []int) {
	run := func() {
		t := time.NewTimer(a.cfg.EphemeralDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-a.stopped:
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if failed, err := a.deleteMessages(dctx, chat, ids); err != nil || failed > 0 {
			a.log.Info("telegram ephemeral message not deleted", "count", len(ids), "error", err)
		}
	}
	a.ephMu.Lock()
	defer a.ephMu.Unlock()
	select {
	case <-a.stopped:
		// Run has ended and no longer waits: delete now, unwaited.
		go run()
		return
	default:
	}
	a.ephemeral.Add(1)
	go func() {
		defer a.ephemeral.Done()
		run()
	}()
}

// flushEphemeral makes waiting ephemeral deletions happen now and waits
// for them.
func (a *Adapter) flushEphemeral() {
	a.ephMu.Lock()
	a.stopOnce.Do(func() { close(a.stopped) })
	a.ephMu.Unlock()
	a.ephemeral.Wait()
}

// wait waits for the rate limiter's slot for address ("": global only).
func (a *Adapter) wait(ctx context.Context, address string) error {
	waited, err := a.limit.Wait(ctx, address)
	if err != nil {
		return &bot.SendError{Retryable: true, Err: fmt.Errorf("telegram: rate limit wait: %w", err)}
	}
	if a.OnWait != nil {
		a.OnWait(waited)
	}
	return nil
}

// sendError classifies a failed call for the runtime: 429 is retryable
// after Telegram's retry_after (and holds further sends to the chat that
// long), 403 means the person blocked the bot or is gone, 400 will fail
// again, anything else (network, 5xx, a bad token) may pass later.
func (a *Adapter) sendError(address, method string, err error) *bot.SendError {
	err = fmt.Errorf("telegram %s: %w", method, err)
	var flood *tgbot.TooManyRequestsError
	var migrate *tgbot.MigrateError
	switch {
	case errors.As(err, &flood):
		d := time.Duration(flood.RetryAfter) * time.Second
		if d <= 0 {
			d = time.Second
		}
		a.limit.Hold(address, d)
		return &bot.SendError{Retryable: true, RetryAfter: d, Code: http.StatusTooManyRequests, Err: err}
	case errors.Is(err, tgbot.ErrorForbidden):
		return &bot.SendError{Unreachable: true, Code: http.StatusForbidden, Err: err}
	case errors.As(err, &migrate), errors.Is(err, tgbot.ErrorBadRequest):
		return &bot.SendError{Code: http.StatusBadRequest, Err: err}
	case errors.Is(err, tgbot.ErrorUnauthorized):
		return &bot.SendError{Retryable: true, Code: http.StatusUnauthorized, Err: err}
	case errors.Is(err, tgbot.ErrorNotFound):
		return &bot.SendError{Retryable: true, Code: http.StatusNotFound, Err: err}
	}
	return &bot.SendError{Retryable: true, Err: err}
}

// parseAddress reads a chat id. The error does not repeat the address,
// which is personal data.
func parseAddress(address string) (int64, error) {
	digits := strings.TrimPrefix(address, "-")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, errors.New("telegram: address is not a chat id")
	}
	chat, err := strconv.ParseInt(address, 10, 64)
	if err != nil || chat == 0 {
		return 0, errors.New("telegram: address is not a chat id")
	}
	return chat, nil
}

// keyboard builds one button per row, each carrying "v1:<prompt>:<id>".
func keyboard(prompt int, opts []bot.OutOption) (*inlineKeyboard, error) {
	kb := &inlineKeyboard{InlineKeyboard: make([][]inlineButton, 0, len(opts))}
	for _, o := range opts {
		data, err := callbackData(prompt, o.ID)
		if err != nil {
			return nil, err
		}
		label := strings.TrimSpace(strings.ToValidUTF8(o.Label, "\uFFFD"))
		if label == "" {
			return nil, fmt.Errorf("option %q has an empty label", o.ID)
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []inlineButton{{Text: label, CallbackData: data}})
	}
	return kb, nil
}

// splitText cuts s into parts of at most limit UTF-16 code units, each cut
// at the last paragraph break that fits, else the last line break, else
// the last space, else between two characters. Whitespace at the cuts is
// dropped, and so are parts with nothing but whitespace.
func splitText(s string, limit int) []string {
	var parts []string
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return parts
		}
		cut := prefixLen(s, limit)
		if cut == len(s) {
			return append(parts, strings.TrimRightFunc(s, unicode.IsSpace))
		}
		head := s[:cut]
		end, next := cut, cut
		if i := strings.LastIndex(head, "\n\n"); i > 0 {
			end, next = i, i+2
		} else if i := strings.LastIndexByte(head, '\n'); i > 0 {
			end, next = i, i+1
		} else if i := strings.LastIndexFunc(head, unicode.IsSpace); i > 0 {
			_, size := utf8.DecodeRuneInString(head[i:])
			end, next = i, i+size
		}
		parts = append(parts, strings.TrimRightFunc(s[:end], unicode.IsSpace))
		s = s[next:]
	}
}

// prefixLen returns the length in bytes of the longest prefix of s that is
// at most limit UTF-16 code units, ending between two runes.
func prefixLen(s string, limit int) int {
	units := 0
	for i, r := range s {
		n := utf16Units(r)
		if units+n > limit {
			return i
		}
		units += n
	}
	return len(s)
}

func utf16Units(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// utf16Len is the length of s as Telegram counts it.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16Units(r)
	}
	return n
}
