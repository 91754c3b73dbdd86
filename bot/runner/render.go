package runner

import (
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// Rendering: engine outputs become texts in the person's language.
// Render turns engine outputs into texts in lang.
func (d *Decider) render(lang string, outs []flows.Output) []bot.Outbound {
	cat := d.content.Catalog
	data := d.content.DataFor(lang)
	res := make([]bot.Outbound, 0, len(outs))
	for _, o := range outs {
		dd := data
		if len(o.Data) > 0 {
			dd = make(map[string]string, len(data)+len(o.Data))
			for k, v := range data {
				dd[k] = v
			}
			for k, v := range o.Data {
				dd[k] = v
			}
		}
		text, err := cat.Text(lang, o.Msg, dd)
		if err != nil {
			d.log.Warn("message rendered with a problem", "event", "render_problem", "message_id", o.Msg, "lang", lang, "error", err)
		}
		out := bot.Outbound{Text: text, Prompt: o.Prompt}
		for _, opt := range o.Options {
			l := lang
			if opt.Lang != "" {
				l = opt.Lang
			}
			ld := data
			if l != lang {
				ld = d.content.DataFor(l)
			}
			label, err := cat.Text(l, opt.Label, ld)
			if err != nil {
				d.log.Warn("label rendered with a problem", "event", "render_problem", "message_id", opt.Label, "lang", l, "error", err)
			}
			out.Options = append(out.Options, bot.OutOption{ID: opt.ID, Label: label})
		}
		res = append(res, out)
	}
	return res
}

const myDataMsg = "mydata.summary"

// myData lists, in plain words and the person's language, everything kept
// about them.
func (d *Decider) myData(lang string, sess *flows.Session, profile map[string]string, plan *bot.Plan, notes []bot.Note) string {
	cat := d.content.Catalog
	line := func(id string, data map[string]string) string {
		text, err := cat.Text(lang, id, data)
		if err != nil {
			d.log.Warn("message rendered with a problem", "event", "render_problem", "message_id", id, "lang", lang, "error", err)
		}
		return "• " + text
	}
	var lines []string
	name, _ := cat.Text(lang, flows.LabelLangName, nil)
	lines = append(lines, line("mydata.language", map[string]string{"value": name}))
	lines = append(lines, line("mydata.channel", map[string]string{"value": channelName(profile["ch"])}))
	if first := store.Millis(profile["first"]); !first.IsZero() {
		lines = append(lines, line("mydata.since", map[string]string{"value": first.Format(time.DateOnly)}))
	}
	done := 0
	for k, v := range sess.Fields {
		if strings.HasPrefix(k, "progress.") && v == "done" {
			done++
		}
	}
	if text, err := cat.Plural(lang, "mydata.lessons", done, nil); err == nil {
		lines = append(lines, "• "+text)
	}
	var subs []string
	for _, topic := range []string{"checkins", "jobs", "reminders"} {
		if profile["sub."+topic] != "" {
			t, _ := cat.Text(lang, "mydata.topic."+topic, nil)
			subs = append(subs, t)
		}
	}
	if len(subs) > 0 {
		lines = append(lines, line("mydata.subscriptions", map[string]string{"value": strings.Join(subs, ", ")}))
	}
	var about []string
	for _, k := range []string{"gender", "age", "tz"} {
		if v := firstOf(sess.Fields[k], profile[k]); v != "" {
			about = append(about, v)
		}
	}
	if len(about) > 0 {
		lines = append(lines, line("mydata.about", map[string]string{"value": strings.Join(about, ", ")}))
	}
	if profile["case"] != "" {
		lines = append(lines, line("mydata.case", nil))
	}
	if profile[bot.FieldLongFollowUp] != "" {
		lines = append(lines, line("mydata.followup", nil))
	}
	if plan != nil {
		if len(plan.Goals) > 0 {
			lines = append(lines, line("mydata.plan_goals", map[string]string{"value": strings.Join(plan.Goals, "; ")}))
		}
		if len(plan.Services) > 0 {
			lines = append(lines, line("mydata.plan_services", map[string]string{"value": strings.Join(plan.Services, "; ")}))
		}
		for _, ref := range plan.Referrals {
			status, _ := cat.Text(lang, "mydata.referral."+ref.Status, nil)
			lines = append(lines, line("mydata.plan_referral", map[string]string{"service": d.serviceName(lang, ref.Service), "status": status, "date": ref.Date}))
		}
	}
	for _, n := range notes {
		lines = append(lines, line("mydata.note", map[string]string{"date": n.At.Format(time.DateOnly), "text": n.Text}))
	}
	if profile["safeword"] != "" {
		lines = append(lines, line("mydata.safeword", nil))
	}
	if id := soundLine(profile); id != "" {
		lines = append(lines, line(id, nil))
	}
	if profile["stopped"] != "" {
		lines = append(lines, line("mydata.stopped", nil))
	}
	return strings.Join(lines, "\n")
}

// serviceName names a referral's service (a resource pack entry) in the
// person's language.
func (d *Decider) serviceName(lang, id string) string {
	if name, err := d.content.Catalog.Text(lang, "mydata.service."+id, nil); err == nil {
		return name
	}
	return id
}

func channelName(ch string) string {
	switch ch {
	case "telegram":
		return "Telegram"
	case "sms":
		return "SMS"
	case "whatsapp":
		return "WhatsApp"
	}
	return ch
}
