"""The shipped texts in German (formal "Sie"), written for the product, not translated
at run time."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inbox.texts.keys import Key

TEXTS: Mapping[Key, str] = MappingProxyType(
    {
        Key.ACKNOWLEDGEMENT: (
            "Vielen Dank, Ihre Nachricht ist bei uns angekommen. Ihre Ticketnummer ist "
            "{reference}. {who} {when}"
        ),
        Key.FOLLOW_UP: (
            "Vielen Dank, wir haben Ihre Nachricht zum Ticket {reference} hinzugefügt. "
            "Das zuständige Team antwortet Ihnen dort."
        ),
        Key.TEAM_NAMED: "Das Team {team}",
        Key.TEAM_FALLBACK: "Unser Support-Team",
        Key.ANSWERS_WITHIN: "antwortet in der Regel innerhalb von {span}.",
        Key.ANSWERS_SOON: "antwortet Ihnen so bald wie möglich.",
        Key.SPAN_MINUTES: "{count} Minuten",
        Key.SPAN_BUSINESS_MINUTES: "{count} Minuten (zu unseren Geschäftszeiten)",
        Key.SPAN_HOUR: "einer Stunde",
        Key.SPAN_BUSINESS_HOUR: "einer Stunde (zu unseren Geschäftszeiten)",
        Key.SPAN_HOURS: "{count} Stunden",
        Key.SPAN_BUSINESS_HOURS: "{count} Stunden (zu unseren Geschäftszeiten)",
        Key.BOT_INTRO: (
            "Dies ist eine automatische Antwort aus unserem Hilfe-Center (Ticket {reference})."
        ),
        Key.BOT_ARTICLE: "Der ganze Artikel: {url}",
        Key.BOT_QUESTION: (
            "Hat Ihnen das weitergeholfen? Antworten Sie mit Ja oder Nein, oder bitten Sie um "
            "einen Menschen, dann antwortet Ihnen jemand aus unserem Team."
        ),
        Key.CHOICE_YES: "Ja, das hat geholfen",
        Key.CHOICE_NO: "Nein, das hat nicht geholfen",
        Key.CHOICE_HUMAN: "Ich möchte mit einem Menschen sprechen",
        Key.HANDOFF: (
            "{opening} Ich habe Ihr Ticket {reference} an unser Team weitergegeben: "
            "Ein Mensch antwortet Ihnen hier. {who} {when}"
        ),
        Key.HANDOFF_ASKED: "Selbstverständlich.",
        Key.HANDOFF_UNHELPFUL: "Schade, dass das nicht geholfen hat.",
        Key.HANDOFF_UNKNOWN: "Vielen Dank.",
        Key.RESOLVED: (
            "Schön, dass es geholfen hat! Das Ticket {reference} ist geschlossen. Wenn Sie noch "
            "etwas brauchen, schreiben Sie uns einfach."
        ),
        Key.HELP: (
            "Schreiben Sie Ihre Frage hier: Sie erhalten sofort eine Ticketnummer, und unser "
            "Team antwortet Ihnen in diesem Chat.\n\n"
            "/status - Ihre offenen Tickets\n"
            "/human - nach einem Menschen fragen\n"
            "/link sie@example.com - diesen Chat mit Ihren E-Mails an uns verbinden\n"
            "/stop - keine automatischen Nachrichten mehr (die Antworten unseres Teams kommen "
            "weiterhin)"
        ),
        Key.START: "Guten Tag! Hier ist unser Kundenservice.\n\n{help}",
        Key.START_NAMED: "Guten Tag, {name}! Hier ist unser Kundenservice.\n\n{help}",
        Key.STOPPED: (
            "Erledigt: Sie erhalten keine automatischen Nachrichten mehr von uns "
            "(Eingangsbestätigungen, Antworten des Bots, Bitten um Bewertung). Die Antworten "
            "unseres Teams kommen weiterhin hier an. Senden Sie /resume, um sie wieder zu "
            "erhalten."
        ),
        Key.STOPPED_ALREADY: (
            "Automatische Nachrichten sind bereits ausgeschaltet. Die Antworten unseres Teams "
            "kommen weiterhin hier an."
        ),
        Key.RESUMED: (
            "Automatische Nachrichten sind wieder eingeschaltet. Senden Sie /stop, um sie "
            "auszuschalten."
        ),
        Key.RESUMED_ALREADY: (
            "Automatische Nachrichten sind eingeschaltet. Senden Sie /stop, um sie auszuschalten."
        ),
        Key.STATUS_NO_TICKETS: (
            "Sie haben noch keine Tickets bei uns. Schreiben Sie Ihre Frage, dann erhalten Sie "
            "eines."
        ),
        Key.STATUS_NONE_OPEN: "Sie haben keine offenen Tickets.",
        Key.STATUS_OPEN: "Ihre offenen Tickets:\n{tickets}",
        Key.STATE_NEW: "neu",
        Key.STATE_OPEN: "offen",
        Key.STATE_PENDING: "wartet",
        Key.HUMAN_NO_TICKET: (
            "Schreiben Sie Ihre Frage hier, und ein Mensch aus unserem Team beantwortet sie."
        ),
        Key.HUMAN_PASSED: (
            "Ein Mensch aus unserem Team antwortet Ihnen hier zum Ticket {reference}."
        ),
        Key.LINK_UNAVAILABLE: "Die Verbindung mit einer E-Mail-Adresse ist hier nicht möglich.",
        Key.LINK_USAGE: (
            "Senden Sie /link und dahinter Ihre E-Mail-Adresse, zum Beispiel /link sie@example.com"
        ),
        Key.LINK_TOO_MANY: (
            "Sie haben in dieser Stunde schon mehrere Codes angefordert; bitte versuchen Sie es "
            "später noch einmal."
        ),
        Key.LINK_SENT: (
            "Wir haben einen Code an {email} geschickt. Senden Sie innerhalb von {minutes} "
            "Minuten /verify CODE hier im Chat."
        ),
        Key.LINK_MAIL_SUBJECT: "Ihr Code, um Ihren Chat zu verbinden",
        Key.LINK_MAIL: (
            "Ihr Code lautet {code}.\n\n"
            "Senden Sie innerhalb von {minutes} Minuten /verify {code} im Chat, um Ihren Chat "
            "mit den Tickets dieser E-Mail-Adresse zu verbinden.\n\n"
            "Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail: Ohne den Code "
            "wird nichts verbunden."
        ),
        Key.VERIFY_NONE: (
            "Für diesen Chat wartet kein Code. Senden Sie zuerst /link sie@example.com."
        ),
        Key.VERIFY_VOID: (
            "Dieser Code stimmt nicht und ist jetzt ungültig. Senden Sie /link noch einmal, "
            "um einen neuen zu erhalten."
        ),
        Key.VERIFY_WRONG_ONE: "Dieser Code stimmt nicht. Sie haben noch einen Versuch.",
        Key.VERIFY_WRONG_MANY: "Dieser Code stimmt nicht. Sie haben noch {left} Versuche.",
        Key.VERIFY_DONE: (
            "Erledigt: Dieser Chat ist jetzt mit {email} verbunden. /status zeigt alle Ihre "
            "offenen Tickets."
        ),
        Key.CSAT_REQUEST: (
            "Ihr Ticket {reference} ist erledigt. Wie zufrieden waren Sie mit uns? Ein Tippen "
            "genügt: {url}\nWenn noch etwas nicht stimmt, antworten Sie einfach."
        ),
        Key.RATE_TITLE: "Wie zufrieden waren Sie?",
        Key.RATE_HEADING: "Wie zufrieden waren Sie mit uns beim Ticket {reference}?",
        Key.RATE_THANKS: "Vielen Dank! Unten können Sie Ihre Bewertung noch ändern.",
        Key.RATE_COMMENT: "Möchten Sie noch etwas ergänzen? (freiwillig)",
        Key.SCORE_5: "Sehr zufrieden",
        Key.SCORE_4: "Zufrieden",
        Key.SCORE_3: "Neutral",
        Key.SCORE_2: "Unzufrieden",
        Key.SCORE_1: "Sehr unzufrieden",
        Key.ANSWER_TITLE: "Hat unsere Antwort geholfen?",
        Key.ANSWER_HEADING: "Hat unsere Antwort beim Ticket {reference} geholfen?",
        Key.ANSWER_RESOLVED: (
            "Schön, dass es geholfen hat! Ihr Ticket ist geschlossen. Wenn Sie noch etwas "
            "brauchen, schreiben Sie uns einfach."
        ),
        Key.ANSWER_PASSED: (
            "Vielen Dank. Ein Mensch aus unserem Team hat jetzt Ihr Ticket und antwortet Ihnen."
        ),
        Key.ANSWER_TAKEN: (
            "Ein Mensch aus unserem Team kümmert sich bereits um dieses Ticket; hier gibt es "
            "nichts mehr auszuwählen."
        ),
        Key.MAIL_REQUEST: "Ihre Anfrage",
        Key.MAIL_SUBJECT: "Eine Nachricht vom Kundenservice",
        Key.CONFIRM_MAIL_SUBJECT: "Bitte bestätigen Sie Ihre Adresse für das Ticket {reference}",
        Key.CONFIRM_MAIL: (
            "Jemand hat uns über unser Webformular mit dieser Adresse geschrieben "
            "(Ticket {reference}).\n\n"
            "Wenn Sie das waren, bestätigen Sie Ihre Adresse hier:\n{link}\n\n"
            "Dann gehören Ihre Nachrichten aus diesem Browser zu Ihrem Verlauf bei uns.\n"
            "Wenn Sie es nicht waren, ignorieren Sie diese E-Mail: Niemandem, der keinen "
            "Zugang zu diesem Postfach hat, wird etwas angezeigt."
        ),
        Key.CONFIRM_TITLE: "Bestätigen Sie Ihre Adresse",
        Key.CONFIRM_ASK: (
            "Bestätigen Sie, dass {email} Ihre Adresse ist und dass Sie uns über unser Webformular"
            " geschrieben haben."
        ),
        Key.CONFIRM_BUTTON: "Ja, das ist meine Adresse",
        Key.CONFIRMED: (
            "{email} ist bestätigt. Ihre Nachrichten aus dem Webformular gehören jetzt zu Ihrem "
            "Verlauf bei uns."
        ),
        Key.FORM_TITLE: "Kundenservice kontaktieren",
        Key.FORM_INTRO: "Schreiben Sie uns, und Sie erhalten sofort eine Ticketnummer.",
        Key.FORM_ERRORS: "Bitte korrigieren Sie Folgendes:",
        Key.FORM_NAME: "Ihr Name",
        Key.FORM_EMAIL: "E-Mail-Adresse",
        Key.FORM_SUBJECT: "Betreff",
        Key.FORM_MESSAGE: "Nachricht",
        Key.FORM_HONEYPOT: "Dieses Feld bitte leer lassen",
        Key.FORM_SEND: "Senden",
        Key.FORM_BAD_EMAIL: (
            "Bitte geben Sie eine gültige E-Mail-Adresse ein, etwa name@example.com"
        ),
        Key.FORM_NO_MESSAGE: "Bitte schreiben Sie eine Nachricht",
        Key.FORM_TOO_LONG: "Die Nachricht ist zu lang: höchstens {limit} Zeichen",
        Key.DONE_TITLE: "Vielen Dank",
        Key.DONE_PENDING: "Ihre Nachricht ist bei uns angekommen. Ihre Referenz ist {reference}.",
        Key.DONE_PENDING_KEEP: (
            "Bewahren Sie diese Referenz auf: Sie führt zu Ihrem Ticket, und die Seite unten "
            "zeigt es mit unseren Antworten."
        ),
        Key.DONE_TICKET: (
            "Ihre Nachricht ist bei uns angekommen. Ihre Ticketnummer ist {reference}."
        ),
        Key.DONE_TICKET_KEEP: (
            "Bewahren Sie diese Nummer auf: Nennen Sie sie, wenn Sie uns aus diesem Browser "
            "wieder schreiben, dann kommt Ihre Nachricht zum selben Ticket."
        ),
        Key.DONE_FOLLOW: "Ihr Ticket ansehen",
        Key.NOTE_NO_MAIL: (
            "Wir schicken Ihnen keine E-Mail: Dieser Dienst versendet keine E-Mails. Unsere "
            "Antworten erscheinen nur auf dieser Seite; speichern Sie sich bitte ihre Adresse "
            "(als Lesezeichen), um wiederzukommen."
        ),
        Key.NOTE_MAILED: "Wir schicken unsere Antworten auch per E-Mail an {email}.",
        Key.NOTE_UNCONFIRMED: (
            "Wir schicken Ihnen noch keine E-Mail: {email} ist nicht bestätigt. Wir haben "
            "einen Bestätigungslink dorthin geschickt; sobald Sie ihn bestätigen, schicken wir "
            "unsere Antworten auch dorthin. Bis dahin erscheinen sie nur auf dieser Seite, "
            "speichern Sie sich also bitte ihre Adresse."
        ),
        Key.TICKET: "Ticket",
        Key.MESSAGE: "Nachricht",
        Key.TICKET_PROCESSING: (
            "Ihre Nachricht wird bearbeitet; diese Seite zeigt unsere Antworten, sobald sie da "
            "sind."
        ),
        Key.TICKET_RELOAD: "Laden Sie diese Seite neu, um neue Antworten zu sehen.",
        Key.TICKET_ASK: "Hat Ihnen das weitergeholfen?",
        Key.YOU: "Sie",
        Key.SUPPORT: "Kundenservice",
        Key.CHAT_TITLE: "Chat mit dem Kundenservice",
        Key.CHAT_CONNECTING: "Verbindung wird hergestellt…",
        Key.CHAT_CONNECTED: "Verbunden",
        Key.CHAT_RECONNECTING: "Verbindung wird wiederhergestellt…",
        Key.CHAT_UNREACHABLE: "Der Kundenservice ist nicht erreichbar; neuer Versuch läuft…",
        Key.CHAT_CONVERSATION: "Unterhaltung",
        Key.CHAT_NAME: "Ihr Name (freiwillig)",
        Key.CHAT_MESSAGE: "Ihre Nachricht",
        Key.CHAT_PLACEHOLDER: "Schreiben Sie Ihre Nachricht",
        Key.CHAT_SEND: "Senden",
        Key.CHAT_QUICK_REPLIES: "Schnellantworten",
        Key.CHAT_AS: "Sie chatten als {name}",
        Key.CHAT_ACCOUNT: "Sie chatten mit Ihrem Konto",
        Key.CHAT_REFUSED: (
            "Wir konnten Ihr Konto nicht bestätigen, daher ist dieser Chat anonym ({reason})."
        ),
    }
)
