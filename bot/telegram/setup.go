package telegram

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Command is one entry of the bot's command menu: the command without its
// slash ("menu") and its description in one language.
type Command struct {
	Command     string
	Description string
}

var (
	commandPattern  = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	languagePattern = regexp.MustCompile(`^[a-z]{2}$`)
)

// Setup sets the bot's command menu for private chats, its name and its
// description, per language. Each map is keyed by a two-letter ISO 639-1
// language code; the key "" is the default for every other language. The
// texts come from the caller's locales. Name and description are only set
// where they differ from Telegram's, since Telegram rate-limits setting
// them hard. Setup tries everything and returns the errors joined; they
// are not fatal to running the bot.
func (a *Adapter) Setup(ctx context.Context, commands map[string][]Command, names, descriptions map[string]string) error {
	var errs []error
	errs = eachLanguage(errs, "commands", commands, func(lang string, cmds []Command) error {
		return a.setCommands(ctx, lang, cmds)
	})
	for _, t := range []struct {
		what  string
		texts map[string]string
		max   int
	}{{"name", names, 64}, {"description", descriptions, 512}} {
		errs = eachLanguage(errs, t.what, t.texts, func(lang, text string) error {
			text = strings.TrimSpace(text)
			if utf8.RuneCountInString(text) > t.max {
				return fmt.Errorf("%s must be at most %d characters", t.what, t.max)
			}
			if cur, err := a.botText(ctx, t.what, lang); err == nil && cur == text {
				return nil
			}
			return a.setBotText(ctx, t.what, lang, text)
		})
	}
	return errors.Join(errs...)
}

// eachLanguage sets each language's entry of m, in language order, and
// adds to errs what failed, naming what was set and the language.
func eachLanguage[V any](errs []error, what string, m map[string]V, set func(lang string, v V) error) []error {
	for _, lang := range slices.Sorted(maps.Keys(m)) {
		err := checkLanguage(lang)
		if err == nil {
			err = set(lang, m[lang])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("telegram: %s %q: %w", what, lang, err))
		}
	}
	return errs
}

// botText returns the bot's "name" or "description" in lang as Telegram
// has it.
func (a *Adapter) botText(ctx context.Context, what, lang string) (string, error) {
	if what == "name" {
		cur, err := a.tg.GetMyName(ctx, &tgbot.GetMyNameParams{LanguageCode: lang})
		if err != nil {
			return "", err
		}
		return cur.Name, nil
	}
	cur, err := a.tg.GetMyDescription(ctx, &tgbot.GetMyDescriptionParams{LanguageCode: lang})
	if err != nil {
		return "", err
	}
	return cur.Description, nil
}

// setBotText sets the bot's "name" or "description" in lang.
func (a *Adapter) setBotText(ctx context.Context, what, lang, text string) error {
	var err error
	if what == "name" {
		_, err = a.tg.SetMyName(ctx, &tgbot.SetMyNameParams{Name: text, LanguageCode: lang})
	} else {
		_, err = a.tg.SetMyDescription(ctx, &tgbot.SetMyDescriptionParams{Description: text, LanguageCode: lang})
	}
	return err
}

func checkLanguage(lang string) error {
	if lang != "" && !languagePattern.MatchString(lang) {
		return errors.New("language code must be two lowercase letters, or empty for the default")
	}
	return nil
}

func (a *Adapter) setCommands(ctx context.Context, lang string, cmds []Command) error {
	list := make([]models.BotCommand, 0, len(cmds))
	for _, c := range cmds {
		name := strings.TrimPrefix(c.Command, "/")
		if !commandPattern.MatchString(name) {
			return fmt.Errorf("command %q: must be 1-32 of a-z 0-9 _", c.Command)
		}
		desc := strings.TrimSpace(c.Description)
		if n := utf8.RuneCountInString(desc); n < 1 || n > 256 {
			return fmt.Errorf("command %q: description must be 1-256 characters", name)
		}
		list = append(list, models.BotCommand{Command: name, Description: desc})
	}
	if len(list) > 100 {
		return errors.New("at most 100 commands")
	}
	_, err := a.tg.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{
		Commands:     list,
		Scope:        &models.BotCommandScopeAllPrivateChats{},
		LanguageCode: lang,
	})
	return err
}
