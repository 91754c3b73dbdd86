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
	for _, lang := range slices.Sorted(maps.Keys(commands)) {
		if err := a.setCommands(ctx, lang, commands[lang]); err != nil {
			errs = append(errs, fmt.Errorf("telegram: commands %q: %w", lang, err))
		}
	}
	for _, lang := range slices.Sorted(maps.Keys(names)) {
		if err := a.setName(ctx, lang, names[lang]); err != nil {
			errs = append(errs, fmt.Errorf("telegram: name %q: %w", lang, err))
		}
	}
	for _, lang := range slices.Sorted(maps.Keys(descriptions)) {
		if err := a.setDescription(ctx, lang, descriptions[lang]); err != nil {
			errs = append(errs, fmt.Errorf("telegram: description %q: %w", lang, err))
		}
	}
	return errors.Join(errs...)
}

func checkLanguage(lang string) error {
	if lang != "" && !languagePattern.MatchString(lang) {
		return errors.New("language code must be two lowercase letters, or empty for the default")
	}
	return nil
}

func (a *Adapter) setCommands(ctx context.Context, lang string, cmds []Command) error {
	if err := checkLanguage(lang); err != nil {
		return err
	}
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

func (a *Adapter) setName(ctx context.Context, lang, name string) error {
	if err := checkLanguage(lang); err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 64 {
		return errors.New("name must be at most 64 characters")
	}
	cur, err := a.tg.GetMyName(ctx, &tgbot.GetMyNameParams{LanguageCode: lang})
	if err == nil && cur.Name == name {
		return nil
	}
	_, err = a.tg.SetMyName(ctx, &tgbot.SetMyNameParams{Name: name, LanguageCode: lang})
	return err
}

func (a *Adapter) setDescription(ctx context.Context, lang, desc string) error {
	if err := checkLanguage(lang); err != nil {
		return err
	}
	desc = strings.TrimSpace(desc)
	if utf8.RuneCountInString(desc) > 512 {
		return errors.New("description must be at most 512 characters")
	}
	cur, err := a.tg.GetMyDescription(ctx, &tgbot.GetMyDescriptionParams{LanguageCode: lang})
	if err == nil && cur.Description == desc {
		return nil
	}
	_, err = a.tg.SetMyDescription(ctx, &tgbot.SetMyDescriptionParams{Description: desc, LanguageCode: lang})
	return err
}
