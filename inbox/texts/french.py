"""The shipped texts in French (formal "vous"), written for the product, not translated
at run time."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inbox.texts.keys import Key

TEXTS: Mapping[Key, str] = MappingProxyType(
    {
        Key.ACKNOWLEDGEMENT: (
            "Merci, nous avons bien reçu votre message. Votre numéro de ticket est "
            "{reference}. {who} {when}"
        ),
        Key.FOLLOW_UP: (
            "Merci, nous avons ajouté votre message au ticket {reference}. "
            "L'équipe qui s'en occupe vous répondra sur ce ticket."
        ),
        Key.TEAM_NAMED: "L'équipe {team}",
        Key.TEAM_FALLBACK: "Notre équipe d'assistance",
        Key.ANSWERS_WITHIN: "répond en général sous {span}.",
        Key.ANSWERS_SOON: "vous répondra dès que possible.",
        Key.SPAN_MINUTES: "{count} minutes",
        Key.SPAN_BUSINESS_MINUTES: "{count} minutes (aux heures d'ouverture)",
        Key.SPAN_HOUR: "une heure",
        Key.SPAN_BUSINESS_HOUR: "une heure (aux heures d'ouverture)",
        Key.SPAN_HOURS: "{count} heures",
        Key.SPAN_BUSINESS_HOURS: "{count} heures (aux heures d'ouverture)",
        Key.BOT_INTRO: (
            "Ceci est une réponse automatique de notre centre d'aide (ticket {reference})."
        ),
        Key.BOT_ARTICLE: "L'article complet : {url}",
        Key.BOT_QUESTION: (
            "Cela a-t-il résolu votre problème ? Répondez oui ou non, ou demandez à parler à "
            "une personne et quelqu'un de notre équipe vous répondra."
        ),
        Key.CHOICE_YES: "Oui, c'est résolu",
        Key.CHOICE_NO: "Non, cela n'a pas aidé",
        Key.CHOICE_HUMAN: "Je veux parler à une personne",
        Key.HANDOFF: (
            "{opening} J'ai transmis votre ticket {reference} à notre équipe : "
            "une personne vous répondra ici. {who} {when}"
        ),
        Key.HANDOFF_ASKED: "Bien sûr.",
        Key.HANDOFF_UNHELPFUL: "Désolé que cela n'ait pas aidé.",
        Key.HANDOFF_UNKNOWN: "Merci.",
        Key.RESOLVED: (
            "Ravi que cela ait aidé ! Le ticket {reference} est clos. Si vous avez besoin "
            "d'autre chose, écrivez-nous simplement."
        ),
        Key.HELP: (
            "Écrivez votre question ici : vous recevez tout de suite un numéro de ticket, et "
            "notre équipe vous répond dans ce chat.\n\n"
            "/status - vos tickets ouverts\n"
            "/human - demander une personne\n"
            "/link vous@example.com - relier ce chat à vos échanges par e-mail\n"
            "/stop - plus de messages automatiques (les réponses de notre équipe arrivent "
            "toujours)"
        ),
        Key.START: "Bonjour ! Ici le service client.\n\n{help}",
        Key.START_NAMED: "Bonjour {name} ! Ici le service client.\n\n{help}",
        Key.STOPPED: (
            "C'est fait : vous ne recevez plus de messages automatiques de notre part (accusés "
            "de réception, réponses du bot, demandes d'évaluation). Les réponses de notre "
            "équipe arrivent toujours ici. Envoyez /resume pour les recevoir à nouveau."
        ),
        Key.STOPPED_ALREADY: (
            "Les messages automatiques sont déjà désactivés. Les réponses de notre équipe "
            "arrivent toujours ici."
        ),
        Key.RESUMED: (
            "Les messages automatiques sont de nouveau activés. Envoyez /stop pour les désactiver."
        ),
        Key.RESUMED_ALREADY: (
            "Les messages automatiques sont activés. Envoyez /stop pour les désactiver."
        ),
        Key.STATUS_NO_TICKETS: (
            "Vous n'avez encore aucun ticket chez nous. Écrivez votre question et vous en "
            "recevrez un."
        ),
        Key.STATUS_NONE_OPEN: "Vous n'avez aucun ticket ouvert.",
        Key.STATUS_OPEN: "Vos tickets ouverts :\n{tickets}",
        Key.STATE_NEW: "nouveau",
        Key.STATE_OPEN: "ouvert",
        Key.STATE_PENDING: "en attente",
        Key.HUMAN_NO_TICKET: (
            "Écrivez votre question ici et une personne de notre équipe y répondra."
        ),
        Key.HUMAN_PASSED: (
            "Une personne de notre équipe vous répondra ici au sujet du ticket {reference}."
        ),
        Key.LINK_UNAVAILABLE: "La liaison avec une adresse e-mail n'est pas disponible ici.",
        Key.LINK_USAGE: (
            "Envoyez /link suivi de votre adresse e-mail, par exemple /link vous@example.com"
        ),
        Key.LINK_TOO_MANY: (
            "Vous avez demandé plusieurs codes en moins d'une heure ; veuillez réessayer plus tard."
        ),
        Key.LINK_SENT: (
            "Nous avons envoyé un code à {email}. Envoyez /verify CODE ici dans les {minutes} "
            "minutes."
        ),
        Key.LINK_MAIL_SUBJECT: "Votre code pour relier votre chat",
        Key.LINK_MAIL: (
            "Votre code est {code}.\n\n"
            "Envoyez /verify {code} dans le chat dans les {minutes} minutes pour relier votre "
            "chat aux tickets de cette adresse e-mail.\n\n"
            "Si vous n'avez rien demandé, ignorez ce message : rien n'est relié sans le code."
        ),
        Key.VERIFY_NONE: (
            "Aucun code n'attend pour ce chat. Envoyez d'abord /link vous@example.com."
        ),
        Key.VERIFY_VOID: (
            "Ce code n'est pas le bon, et il n'est plus valable. Envoyez de nouveau /link pour "
            "en recevoir un autre."
        ),
        Key.VERIFY_WRONG_ONE: "Ce code n'est pas le bon. Il vous reste un essai.",
        Key.VERIFY_WRONG_MANY: "Ce code n'est pas le bon. Il vous reste {left} essais.",
        Key.VERIFY_DONE: (
            "C'est fait : ce chat est maintenant relié à {email}. /status affiche tous vos "
            "tickets ouverts."
        ),
        Key.CSAT_REQUEST: (
            "Votre ticket {reference} est résolu. Qu'avez-vous pensé de notre aide ? Un seul "
            "clic suffit : {url}\nSi quelque chose ne va toujours pas, répondez simplement à "
            "ce message."
        ),
        Key.RATE_TITLE: "Votre avis",
        Key.RATE_HEADING: "Qu'avez-vous pensé de notre aide pour le ticket {reference} ?",
        Key.RATE_THANKS: "Merci ! Vous pouvez modifier votre note ci-dessous.",
        Key.RATE_COMMENT: "Quelque chose à ajouter ? (facultatif)",
        Key.SCORE_5: "Très satisfait",
        Key.SCORE_4: "Satisfait",
        Key.SCORE_3: "Neutre",
        Key.SCORE_2: "Insatisfait",
        Key.SCORE_1: "Très insatisfait",
        Key.ANSWER_TITLE: "Notre réponse vous a-t-elle aidé ?",
        Key.ANSWER_HEADING: "Notre réponse vous a-t-elle aidé pour le ticket {reference} ?",
        Key.ANSWER_RESOLVED: (
            "Ravi que cela ait aidé ! Votre ticket est clos. Si vous avez besoin d'autre chose, "
            "écrivez-nous simplement."
        ),
        Key.ANSWER_PASSED: (
            "Merci. Une personne de notre équipe a maintenant votre ticket et vous répondra."
        ),
        Key.ANSWER_TAKEN: (
            "Une personne de notre équipe s'occupe déjà de ce ticket ; il n'y a plus rien à "
            "choisir ici."
        ),
        Key.MAIL_REQUEST: "Votre demande",
        Key.MAIL_SUBJECT: "Un message du service client",
        Key.CONFIRM_MAIL_SUBJECT: "Confirmez votre adresse pour le ticket {reference}",
        Key.CONFIRM_MAIL: (
            "Quelqu'un nous a écrit avec cette adresse sur notre formulaire web "
            "(ticket {reference}).\n\n"
            "Si c'était vous, confirmez votre adresse ici :\n{link}\n\n"
            "Vos messages envoyés depuis ce navigateur rejoindront alors votre historique "
            "chez nous.\n"
            "Si ce n'était pas vous, ignorez ce message : rien n'est montré à qui n'a pas "
            "accès à cette boîte."
        ),
        Key.CONFIRM_TITLE: "Confirmez votre adresse",
        Key.CONFIRM_ASK: (
            "Confirmez que {email} est bien votre adresse et que vous nous avez écrit sur notre "
            "formulaire web."
        ),
        Key.CONFIRM_BUTTON: "Oui, c'est mon adresse",
        Key.CONFIRMED: (
            "{email} est confirmée. Vos messages envoyés depuis le formulaire web rejoignent "
            "désormais votre historique chez nous."
        ),
        Key.FORM_TITLE: "Contacter le service client",
        Key.FORM_INTRO: "Écrivez-nous et vous recevrez tout de suite un numéro de ticket.",
        Key.FORM_ERRORS: "Veuillez corriger ce qui suit :",
        Key.FORM_NAME: "Votre nom",
        Key.FORM_EMAIL: "Adresse e-mail",
        Key.FORM_SUBJECT: "Objet",
        Key.FORM_MESSAGE: "Message",
        Key.FORM_HONEYPOT: "Laissez ce champ vide",
        Key.FORM_SEND: "Envoyer",
        Key.FORM_BAD_EMAIL: "Saisissez une adresse e-mail valide, par exemple nom@example.com",
        Key.FORM_NO_MESSAGE: "Écrivez un message",
        Key.FORM_TOO_LONG: "Le message est trop long : {limit} caractères au maximum",
        Key.DONE_TITLE: "Merci",
        Key.DONE_PENDING: "Nous avons bien reçu votre message. Sa référence est {reference}.",
        Key.DONE_PENDING_KEEP: (
            "Gardez cette référence : elle mène à votre ticket, et la page ci-dessous l'affiche "
            "avec nos réponses."
        ),
        Key.DONE_TICKET: (
            "Nous avons bien reçu votre message. Votre numéro de ticket est {reference}."
        ),
        Key.DONE_TICKET_KEEP: (
            "Gardez ce numéro : indiquez-le quand vous nous écrivez de nouveau depuis ce "
            "navigateur, et votre message rejoindra le même ticket."
        ),
        Key.DONE_FOLLOW: "Suivre votre ticket",
        Key.NOTE_NO_MAIL: (
            "Nous ne vous enverrons pas d'e-mail : ce service n'envoie aucun e-mail. Nos "
            "réponses apparaissent uniquement sur cette page ; gardez son adresse (en favori) "
            "pour y revenir."
        ),
        Key.NOTE_MAILED: "Nous envoyons aussi nos réponses par e-mail à {email}.",
        Key.NOTE_UNCONFIRMED: (
            "Nous ne vous enverrons pas d'e-mail : {email} n'est pas confirmée. Nous y avons "
            "envoyé un lien de confirmation ; dès que vous l'aurez confirmée, nous y enverrons "
            "aussi nos réponses. D'ici là, elles apparaissent uniquement sur cette page : "
            "gardez son adresse."
        ),
        Key.TICKET: "Ticket",
        Key.MESSAGE: "Message",
        Key.TICKET_PROCESSING: (
            "Votre message est en cours de traitement ; cette page affiche nos réponses dès "
            "qu'elles arrivent."
        ),
        Key.TICKET_RELOAD: "Rechargez cette page pour voir les nouvelles réponses.",
        Key.TICKET_ASK: "Cela a-t-il résolu votre problème ?",
        Key.YOU: "Vous",
        Key.SUPPORT: "Service client",
        Key.CHAT_TITLE: "Discuter avec le service client",
        Key.CHAT_CONNECTING: "Connexion…",
        Key.CHAT_CONNECTED: "Connecté",
        Key.CHAT_RECONNECTING: "Reconnexion…",
        Key.CHAT_UNREACHABLE: "Le service client est injoignable ; nouvel essai…",
        Key.CHAT_CONVERSATION: "Conversation",
        Key.CHAT_NAME: "Votre nom (facultatif)",
        Key.CHAT_MESSAGE: "Votre message",
        Key.CHAT_PLACEHOLDER: "Écrivez votre message",
        Key.CHAT_SEND: "Envoyer",
        Key.CHAT_QUICK_REPLIES: "Réponses rapides",
        Key.CHAT_AS: "Vous discutez en tant que {name}",
        Key.CHAT_ACCOUNT: "Vous discutez avec votre compte",
        Key.CHAT_REFUSED: (
            "Nous n'avons pas pu confirmer votre compte : ce chat est donc anonyme ({reason})."
        ),
    }
)
