"""WhatsApp's own texts in the languages people export in: English, German, Spanish, French,
Portuguese (Brazil), Italian and Dutch.

An export is written in the phone's language, so its encryption notice, "message deleted"
stubs, missed calls, edit markers, media placeholders and export file names are too. These
tables let the line parser (whatsapp.py) tell them from the person's words. What they do not
list is still caught by shape where WhatsApp's layout allows: a system line without a
"Name: " separator, anything in <angle brackets> standing alone, a line iOS marks with U+200E,
a head with quote marks („…“, «…», "…") before the first ": ".

Every pattern matches a whole message body (or a whole file name), never a part of one, so a
person who writes *about* a deleted message keeps their words.
"""

from __future__ import annotations

import re

# Export file names: "WhatsApp Chat with Ana.txt", "WhatsApp Chat mit Ana.txt",
# "Chat de WhatsApp con Ana.txt", "Discussion WhatsApp avec Ana.txt",
# "Conversa do WhatsApp com Ana.txt", "Chat WhatsApp con Ana.txt", "WhatsApp-chat met Ana.txt".
NAME_PREFIX = (r"WhatsApp[ -]Chat (?:with|mit|met|-|–)|Chat de WhatsApp con|"
               r"Discussion WhatsApp avec|Conversa do WhatsApp com|Chat (?:di )?WhatsApp con")
FILE_NAME = re.compile(rf"^(?:{NAME_PREFIX}) (?P<chat>.+?)(?: \(\d+\))?(?:\.txt|\.zip)?$",
                       re.IGNORECASE)   # " (2)": a browser's name for a second download
CHAT_MEMBER = re.compile(rf"(?:^|/)(?:_chat|WhatsApp[ -]Chat[^/]*|(?:{NAME_PREFIX}) [^/]*)\.txt$",
                         re.IGNORECASE)

# The notice at the top of every chat (on iOS "posted" by the chat itself), old and new wording:
# "Messages and calls are end-to-end encrypted. …", "Nachrichten und Anrufe sind
# Ende-zu-Ende-verschlüsselt. …", "Los mensajes y las llamadas están cifrados de extremo a
# extremo. …", "Les messages et les appels sont chiffrés de bout en bout. …", "Les messages
# envoyés dans cette discussion … chiffrement de bout en bout. …", "As mensagens e as chamadas
# são protegidas com a criptografia de ponta a ponta …", "I messaggi e le chiamate sono
# crittografati end-to-end. …", "Berichten en oproepen worden end-to-end versleuteld. …"
ENCRYPTED = re.compile(
    r"(?:Messages (?:and calls|to this|you send)|Nachrichten (?:und Anrufe|in diesem|an diese)|"
    r"Los mensajes (?:y las llamadas|que envíes|en este)|Les messages (?:et les appels|envoyés)|"
    r"As mensagens (?:e (?:as )?chamadas|que você)|I messaggi (?:e le chiamate|inviati)|"
    r"Berichten (?:en (?:oproepen|gesprekken)|die je))\b"
    r"[^\n]{0,100}?(?:end-to-end|Ende-zu-Ende|de extremo a extremo|de bout en bout|"
    r"de ponta a ponta)(?s:.*)", re.IGNORECASE)

_DELETED = (
    r"This message was deleted(?: by admin)?|You deleted this message|"
    r"Diese Nachricht wurde gelöscht|Du hast diese Nachricht gelöscht|"
    r"Se eliminó este mensaje|Eliminaste este mensaje|Este mensaje fue eliminado|"
    r"Ce message a été supprimé|Vous avez supprimé ce message|"
    r"Mensagem apagada|(?:Esta|Essa) mensagem foi apagada|Você apagou esta mensagem|"
    r"Questo messaggio è stato eliminato|Hai eliminato questo messaggio|"
    r"Dit bericht is verwijderd|Je hebt dit bericht verwijderd")
_CALLS = (
    r"Missed (?:voice|video|group voice|group video) call|(?:Voice|Video) call|"
    r"Verpasster (?:Gruppen)?(?:Sprach|Video)anruf|"
    r"(?:Llamada|Videollamada)(?: de voz| de video| grupal)? perdida|"
    r"Appel (?:vocal|vidéo)(?: de groupe)? manqué|"
    r"Chamada de (?:voz|vídeo)(?: em grupo)? perdida|"
    r"(?:Chiamata vocale|Videochiamata)(?: di gruppo)? persa|"
    r"Gemiste (?:groeps)?(?:spraak|video-?)oproep")
SYSTEM_TEXT = re.compile(
    rf"(?:{_DELETED}|{_CALLS}|Waiting for this message\. This may take a while)\.?|"
    rf"{ENCRYPTED.pattern}", re.IGNORECASE)

# "… <This message was edited>" after an edited message's words.
EDITED = re.compile(
    r"[\s\u200e]*<(?:This message was edited|Diese Nachricht wurde bearbeitet|"
    r"Se editó este mensaje\.?|Ce message a été modifié|Mensagem editada|"
    r"Questo messaggio è stato modificato|Dit bericht is bewerkt)>$", re.IGNORECASE)

# A message that is only a media placeholder (a caption may follow on the next lines).
_ATTACHED = (r"file attached|Datei angehängt|archivo adjunto|fichier joint|arquivo anexado|"
             r"file allegato|bestand bijgevoegd")
_MEDIA_NOUN = (r"Bild|Video|Audio|Sticker|GIF|Dokument|Kontaktkarte|imagen|documento|"
               r"tarjeta de contacto|image|vidéo|autocollant|document|carte de contact|imagem|"
               r"vídeo|áudio|figurinha|cartão de contato|immagine|scheda contatto|afbeelding|"
               r"contactkaart")
_OMITTED = r"weggelassen|omitid[oa]|omise?|absente?|ocultad[oa]|omess[oa]|weggelaten"
_PLACE = (r"location|live location|Standort|Live-Standort|ubicación|ubicación en tiempo real|"
          r"localisation|position|localização|posizione|locatie")
MEDIA_LINE = re.compile(
    r"<[^<>\n]{3,40}>|null|"      # <Media omitted>, <Medien ausgelassen>, <Multimedia omitido>…
    r"(?:.*\s)?(?:image|video|audio|sticker|GIF|document|Contact card|photo|video note) omitted|"
    rf"(?:{_MEDIA_NOUN}) (?:{_OMITTED})|"              # iOS: "Bild weggelassen", "imagen omitida"
    r"<[^<>:\n]{2,30}: ?[^<>\n]+>|"                    # iOS: <attached: …>, <Anhang: …>
    rf".+\.\w{{1,5}} \((?:{_ATTACHED})\)|"             # Android: IMG-….jpg (Datei angehängt)
    rf"(?:{_PLACE}): https?://\S+|live location shared", re.IGNORECASE)

# Before the first ": " of a line, these mark a system line rather than a speaker's name: quote
# marks around a group subject ("Anna hat den Betreff zu „Wandern: Harz“ geändert") and the
# English verbs of WhatsApp's notices.
SYSTEM_HEAD = re.compile(r"[\"“”„«»‹›]| (changed|added|removed|left|joined|created|deleted|"
                         r"turned|pinned|started|ended|reset|updated|blocked|unblocked|is now|"
                         r"are now|was|were|has|have)\b", re.IGNORECASE)
