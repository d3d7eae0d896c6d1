"""The shipped texts in Spanish (formal "usted"), written for the product, not translated
at run time."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inbox.texts.keys import Key

TEXTS: Mapping[Key, str] = MappingProxyType(
    {
        Key.ACKNOWLEDGEMENT: (
            "Gracias, hemos recibido su mensaje. Su número de ticket es {reference}. {who} {when}"
        ),
        Key.FOLLOW_UP: (
            "Gracias, hemos añadido su mensaje al ticket {reference}. "
            "El equipo que lo atiende le responderá allí."
        ),
        Key.TEAM_NAMED: "El equipo de {team}",
        Key.TEAM_FALLBACK: "Nuestro equipo de soporte",
        Key.ANSWERS_WITHIN: "suele responder en un plazo de {span}.",
        Key.ANSWERS_SOON: "le responderá lo antes posible.",
        Key.SPAN_MINUTES: "{count} minutos",
        Key.SPAN_BUSINESS_MINUTES: "{count} minutos (en horario de atención)",
        Key.SPAN_HOUR: "una hora",
        Key.SPAN_BUSINESS_HOUR: "una hora (en horario de atención)",
        Key.SPAN_HOURS: "{count} horas",
        Key.SPAN_BUSINESS_HOURS: "{count} horas (en horario de atención)",
        Key.BOT_INTRO: (
            "Esta es una respuesta automática de nuestro centro de ayuda (ticket {reference})."
        ),
        Key.BOT_ARTICLE: "El artículo completo: {url}",
        Key.BOT_QUESTION: (
            "¿Se ha resuelto su problema? Responda sí o no, o pida hablar con una persona y "
            "alguien de nuestro equipo le responderá."
        ),
        Key.CHOICE_YES: "Sí, se ha resuelto",
        Key.CHOICE_NO: "No, no me ha ayudado",
        Key.CHOICE_HUMAN: "Quiero hablar con una persona",
        Key.HANDOFF: (
            "{opening} He pasado su ticket {reference} a nuestro equipo: "
            "una persona le responderá aquí. {who} {when}"
        ),
        Key.HANDOFF_ASKED: "Por supuesto.",
        Key.HANDOFF_UNHELPFUL: "Lamentamos que no le haya ayudado.",
        Key.HANDOFF_UNKNOWN: "Gracias.",
        Key.RESOLVED: (
            "¡Nos alegra que le haya ayudado! El ticket {reference} está cerrado. Si necesita "
            "algo más, escríbanos."
        ),
        Key.HELP: (
            "Escriba aquí su pregunta: recibirá enseguida un número de ticket y nuestro equipo "
            "le responderá en este chat.\n\n"
            "/status - sus tickets abiertos\n"
            "/human - pedir una persona\n"
            "/link usted@example.com - unir este chat con su historial de correo\n"
            "/stop - no más mensajes automáticos (las respuestas de nuestro equipo siguen "
            "llegando)"
        ),
        Key.START: "¡Hola! Este es nuestro servicio de atención al cliente.\n\n{help}",
        Key.START_NAMED: (
            "¡Hola, {name}! Este es nuestro servicio de atención al cliente.\n\n{help}"
        ),
        Key.STOPPED: (
            "Hecho: ya no recibirá mensajes automáticos nuestros (acuses de recibo, respuestas "
            "del bot, solicitudes de valoración). Las respuestas de nuestro equipo siguen "
            "llegando aquí. Envíe /resume para volver a recibirlos."
        ),
        Key.STOPPED_ALREADY: (
            "Los mensajes automáticos ya están desactivados. Las respuestas de nuestro equipo "
            "siguen llegando aquí."
        ),
        Key.RESUMED: (
            "Los mensajes automáticos vuelven a estar activados. Envíe /stop para desactivarlos."
        ),
        Key.RESUMED_ALREADY: (
            "Los mensajes automáticos están activados. Envíe /stop para desactivarlos."
        ),
        Key.STATUS_NO_TICKETS: (
            "Todavía no tiene ningún ticket con nosotros. Escriba su pregunta y recibirá uno."
        ),
        Key.STATUS_NONE_OPEN: "No tiene tickets abiertos.",
        Key.STATUS_OPEN: "Sus tickets abiertos:\n{tickets}",
        Key.STATE_NEW: "nuevo",
        Key.STATE_OPEN: "abierto",
        Key.STATE_PENDING: "en espera",
        Key.HUMAN_NO_TICKET: (
            "Escriba aquí su pregunta y una persona de nuestro equipo le responderá."
        ),
        Key.HUMAN_PASSED: (
            "Una persona de nuestro equipo le responderá aquí sobre el ticket {reference}."
        ),
        Key.LINK_UNAVAILABLE: "Aquí no es posible unir el chat con una dirección de correo.",
        Key.LINK_USAGE: (
            "Envíe /link seguido de su dirección de correo, por ejemplo /link usted@example.com"
        ),
        Key.LINK_TOO_MANY: (
            "Ha pedido varios códigos en la última hora; vuelva a intentarlo más tarde, por favor."
        ),
        Key.LINK_SENT: (
            "Hemos enviado un código a {email}. Envíe /verify CÓDIGO aquí en los próximos "
            "{minutes} minutos."
        ),
        Key.LINK_MAIL_SUBJECT: "Su código para unir su chat",
        Key.LINK_MAIL: (
            "Su código es {code}.\n\n"
            "Envíe /verify {code} en el chat en los próximos {minutes} minutos para unir su "
            "chat con los tickets de esta dirección de correo.\n\n"
            "Si no lo ha pedido usted, ignore este correo: sin el código no se une nada."
        ),
        Key.VERIFY_NONE: (
            "No hay ningún código pendiente para este chat. Envíe primero /link usted@example.com."
        ),
        Key.VERIFY_VOID: (
            "Ese código no es correcto y ya no es válido. Envíe /link de nuevo para recibir otro."
        ),
        Key.VERIFY_WRONG_ONE: "Ese código no es correcto. Le queda un intento.",
        Key.VERIFY_WRONG_MANY: "Ese código no es correcto. Le quedan {left} intentos.",
        Key.VERIFY_DONE: (
            "Hecho: este chat está ahora unido a {email}. /status muestra todos sus tickets "
            "abiertos."
        ),
        Key.CSAT_REQUEST: (
            "Su ticket {reference} está resuelto. ¿Qué le ha parecido nuestra ayuda? Basta con "
            "un toque: {url}\nSi algo sigue sin funcionar, responda a este mensaje."
        ),
        Key.RATE_TITLE: "Su opinión",
        Key.RATE_HEADING: "¿Qué le ha parecido nuestra ayuda con el ticket {reference}?",
        Key.RATE_THANKS: "¡Gracias! Puede cambiar su valoración abajo.",
        Key.RATE_COMMENT: "¿Algo que añadir? (opcional)",
        Key.SCORE_5: "Muy satisfecho",
        Key.SCORE_4: "Satisfecho",
        Key.SCORE_3: "Neutral",
        Key.SCORE_2: "Insatisfecho",
        Key.SCORE_1: "Muy insatisfecho",
        Key.ANSWER_TITLE: "¿Le ha ayudado nuestra respuesta?",
        Key.ANSWER_HEADING: "¿Le ha ayudado nuestra respuesta con el ticket {reference}?",
        Key.ANSWER_RESOLVED: (
            "¡Nos alegra que le haya ayudado! Su ticket está cerrado. Si necesita algo más, "
            "escríbanos."
        ),
        Key.ANSWER_PASSED: (
            "Gracias. Una persona de nuestro equipo tiene ahora su ticket y le responderá."
        ),
        Key.ANSWER_TAKEN: (
            "Una persona de nuestro equipo ya se ocupa de este ticket; aquí no hay nada más que "
            "elegir."
        ),
        Key.MAIL_REQUEST: "Su solicitud",
        Key.MAIL_SUBJECT: "Un mensaje del servicio de atención al cliente",
        Key.CONFIRM_MAIL_SUBJECT: "Confirme su dirección para el ticket {reference}",
        Key.CONFIRM_MAIL: (
            "Alguien nos ha escrito desde nuestro formulario web con esta dirección "
            "(ticket {reference}).\n\n"
            "Si ha sido usted, confirme su dirección aquí:\n{link}\n\n"
            "Así, sus mensajes desde ese navegador se unirán a su historial con nosotros.\n"
            "Si no ha sido usted, ignore este correo: no se muestra nada a quien no tenga "
            "acceso a este buzón."
        ),
        Key.CONFIRM_TITLE: "Confirme su dirección",
        Key.CONFIRM_ASK: (
            "Confirme que {email} es su dirección y que nos ha escrito desde nuestro formulario "
            "web."
        ),
        Key.CONFIRM_BUTTON: "Sí, es mi dirección",
        Key.CONFIRMED: (
            "{email} está confirmada. Sus mensajes del formulario web se unen ahora a su historial"
            " con nosotros."
        ),
        Key.FORM_TITLE: "Contactar con atención al cliente",
        Key.FORM_INTRO: "Escríbanos y recibirá enseguida un número de ticket.",
        Key.FORM_ERRORS: "Corrija lo siguiente, por favor:",
        Key.FORM_NAME: "Su nombre",
        Key.FORM_EMAIL: "Dirección de correo",
        Key.FORM_SUBJECT: "Asunto",
        Key.FORM_MESSAGE: "Mensaje",
        Key.FORM_HONEYPOT: "Deje este campo vacío",
        Key.FORM_SEND: "Enviar",
        Key.FORM_BAD_EMAIL: "Escriba una dirección de correo válida, como nombre@example.com",
        Key.FORM_NO_MESSAGE: "Escriba un mensaje",
        Key.FORM_TOO_LONG: "El mensaje es demasiado largo: como máximo {limit} caracteres",
        Key.DONE_TITLE: "Gracias",
        Key.DONE_PENDING: "Hemos recibido su mensaje. Su referencia es {reference}.",
        Key.DONE_PENDING_KEEP: (
            "Guarde esta referencia: lleva a su ticket, y la página de abajo lo muestra con "
            "nuestras respuestas."
        ),
        Key.DONE_TICKET: "Hemos recibido su mensaje. Su número de ticket es {reference}.",
        Key.DONE_TICKET_KEEP: (
            "Guarde este número: indíquelo cuando vuelva a escribirnos desde este navegador y "
            "su mensaje se unirá al mismo ticket."
        ),
        Key.DONE_FOLLOW: "Ver su ticket",
        Key.NOTE_NO_MAIL: (
            "No le enviaremos correos: este servicio no envía correos. Nuestras respuestas "
            "aparecen solo en esta página; guarde su dirección (en marcadores) para volver."
        ),
        Key.NOTE_MAILED: "También enviamos nuestras respuestas por correo a {email}.",
        Key.NOTE_UNCONFIRMED: (
            "No le enviaremos correos: {email} no está confirmada. Le hemos enviado allí un "
            "enlace de confirmación; cuando la confirme, también le enviaremos allí nuestras "
            "respuestas. Hasta entonces aparecen solo en esta página: guarde su dirección."
        ),
        Key.TICKET: "Ticket",
        Key.MESSAGE: "Mensaje",
        Key.TICKET_PROCESSING: (
            "Estamos procesando su mensaje; esta página muestra nuestras respuestas en cuanto "
            "llegan."
        ),
        Key.TICKET_RELOAD: "Vuelva a cargar esta página para ver las respuestas nuevas.",
        Key.TICKET_ASK: "¿Se ha resuelto su problema?",
        Key.YOU: "Usted",
        Key.SUPPORT: "Atención al cliente",
        Key.CHAT_TITLE: "Chat con atención al cliente",
        Key.CHAT_CONNECTING: "Conectando…",
        Key.CHAT_CONNECTED: "Conectado",
        Key.CHAT_RECONNECTING: "Reconectando…",
        Key.CHAT_UNREACHABLE: "No podemos conectar con atención al cliente; reintentando…",
        Key.CHAT_CONVERSATION: "Conversación",
        Key.CHAT_NAME: "Su nombre (opcional)",
        Key.CHAT_MESSAGE: "Su mensaje",
        Key.CHAT_PLACEHOLDER: "Escriba su mensaje",
        Key.CHAT_SEND: "Enviar",
        Key.CHAT_QUICK_REPLIES: "Respuestas rápidas",
        Key.CHAT_AS: "Está chateando como {name}",
        Key.CHAT_ACCOUNT: "Está chateando con su cuenta",
        Key.CHAT_REFUSED: (
            "No hemos podido confirmar su cuenta, así que este chat es anónimo ({reason})."
        ),
    }
)
