"""WhatsApp exports made on phones in German, Spanish, French, Portuguese (Brazil), Italian and
Dutch: their system lines, media placeholders, "message deleted" stubs and edit markers are
never the person's words, their date styles parse, and the chat name comes from a localised
file name or encryption notice. Snippets follow real exports (texts as WhatsApp writes them;
where versions differ, both wordings appear)."""

# ruff: noqa: E501  (export lines are kept whole, as WhatsApp writes them)
from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest

from metahuman_core.memory.importers import Source, parse
from metahuman_core.memory.importers import whatsapp as wa


def local(*args) -> datetime:
    return datetime(*args).astimezone()


def said(messages):
    return [(m.speaker, m.kind, m.text) for m in messages]


def words(messages):
    return [(m.speaker, m.text) for m in messages if m.kind == "text"]


SYS = (None, "system", "")

GERMAN = """\
12.03.26, 14:05 - Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats kann sie lesen oder anhören, nicht einmal WhatsApp. Tippe, um mehr zu erfahren.
12.03.26, 14:05 - Anna hat die Gruppe „Wandern“ erstellt
12.03.26, 14:06 - Anna hat Ben hinzugefügt
12.03.26, 14:07 - Ben ist über den Einladungslink dieser Gruppe beigetreten
12.03.26, 14:08 - Anna hat den Betreff von „Wandern“ zu „Wandern: Harz 2026“ geändert
12.03.26, 14:09 - Anna: Wer kommt am Samstag mit?
12.03.26, 14:10 - Ben: <Medien ausgelassen>
12.03.26, 14:11 - Ben: Diese Nachricht wurde gelöscht.
12.03.26, 14:12 - Anna: Du hast diese Nachricht gelöscht.
13.03.26, 09:00 - Ben: Ich bin dabei! <Diese Nachricht wurde bearbeitet>
13.03.26, 09:01 - Ben: IMG-20260313-WA0002.jpg (Datei angehängt)
Der Blick vom Brocken
13.03.26, 09:02 - Ben: VID-20260313-WA0003.mp4 (Datei angehängt)
13.03.26, 09:03 - Anna: Diese Nachricht wurde gelöscht, oder? Ich sehe nichts
13.03.26, 09:04 - Ben hat die Gruppe verlassen
"""


def test_german_android_group():
    msgs = wa.messages(GERMAN, "WhatsApp Chat mit Wandern.txt")
    assert {m.chat for m in msgs} == {"Wandern"}
    assert said(msgs) == [SYS] * 5 + [
        ("Anna", "text", "Wer kommt am Samstag mit?"),
        ("Ben", "media", ""),
        ("Ben", "system", ""),                 # deleted by the sender
        ("Anna", "system", ""),                # deleted by the one who exported
        ("Ben", "text", "Ich bin dabei!"),     # the edit marker is not his words
        ("Ben", "text", "Der Blick vom Brocken"),   # the caption under a photo
        ("Ben", "media", ""),
        ("Anna", "text", "Diese Nachricht wurde gelöscht, oder? Ich sehe nichts"),  # her words
        SYS,
    ]
    assert msgs[5].ts == local(2026, 3, 12, 14, 9) and msgs[-2].ts == local(2026, 3, 13, 9, 3)


GERMAN_IOS = """\
[12.03.26, 14:05:33] Anna Schmidt: Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats kann sie lesen oder anhören, nicht einmal WhatsApp.
[12.03.26, 14:06:01] Anna Schmidt: Bist du schon da?
[12.03.26, 14:07:12] Alex: \u200eBild weggelassen
[12.03.26, 14:07:30] Alex: Bild weggelassen
[12.03.26, 14:08:40] Anna Schmidt: Diese Nachricht wurde gelöscht.
[12.03.26, 14:09:00] Alex: \u200e<Anhang: 00000012-PHOTO-2026-03-12-14-09-00.jpg>
[12.03.26, 14:10:00] Anna Schmidt: Verpasster Sprachanruf
[12.03.26, 23:59:59] Alex: Gute Nacht
"""


def test_german_ios_chat_named_by_the_encryption_notice():
    msgs = wa.messages(GERMAN_IOS, "_chat.txt")
    assert {m.chat for m in msgs} == {"Anna Schmidt"}     # not "Alex, Anna Schmidt"
    assert said(msgs) == [
        ("Anna Schmidt", "system", ""), ("Anna Schmidt", "text", "Bist du schon da?"),
        ("Alex", "media", ""), ("Alex", "media", ""), ("Anna Schmidt", "system", ""),
        ("Alex", "media", ""), ("Anna Schmidt", "system", ""), ("Alex", "text", "Gute Nacht")]
    assert msgs[-1].ts == local(2026, 3, 12, 23, 59, 59)


SPANISH = """\
12/3/26, 14:05 - Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de este chat, ni siquiera WhatsApp, puede leerlos ni escucharlos. Toca para obtener más información.
12/3/26, 14:05 - Lucía creó el grupo "Cumple de Sofía"
12/3/26, 14:06 - Lucía te añadió
12/3/26, 14:07 - Pablo se unió usando el enlace de invitación de este grupo
12/3/26, 14:08 - Lucía cambió el asunto de "Cumple de Sofía" a "Cumple: sábado 21"
12/3/26, 14:09 - Lucía: ¿Quién trae la tarta?
12/3/26, 14:10 - Pablo: <Multimedia omitido>
12/3/26, 14:11 - Pablo: Se eliminó este mensaje.
12/3/26, 14:12 - Lucía: Eliminaste este mensaje.
13/3/26, 9:00 - Pablo: Yo la traigo <Se editó este mensaje.>
13/3/26, 9:01 - Pablo: IMG-20260313-WA0004.jpg (archivo adjunto)
13/3/26, 9:02 - Pablo salió del grupo
"""


def test_spanish_android_group():
    msgs = wa.messages(SPANISH, "Chat de WhatsApp con Cumple de Sofía.txt")
    assert {m.chat for m in msgs} == {"Cumple de Sofía"}
    assert said(msgs) == [SYS] * 5 + [
        ("Lucía", "text", "¿Quién trae la tarta?"), ("Pablo", "media", ""),
        ("Pablo", "system", ""), ("Lucía", "system", ""), ("Pablo", "text", "Yo la traigo"),
        ("Pablo", "media", ""), SYS]
    assert msgs[9].ts == local(2026, 3, 13, 9, 0)


def test_spanish_twelve_hour_clock_is_day_first_when_the_dates_cannot_tell():
    text = ("5/3/26, 9:15 a. m. - Lucía: Buenos días\n"
            "6/3/26, 2:05\u00a0p.\u00a0m. - Pablo: Buenas tardes\n"
            "7/3/26, 12:30 a. m. - Pablo: Llamada perdida\n")
    msgs = wa.messages(text, "x.txt")
    assert [m.ts for m in msgs] == [local(2026, 3, 5, 9, 15), local(2026, 3, 6, 14, 5),
                                   local(2026, 3, 7, 0, 30)]
    assert said(msgs)[2] == ("Pablo", "system", "")


FRENCH = """\
26/09/2025 à 22:39 - Les messages envoyés dans cette discussion et les appels sont désormais protégés avec le chiffrement de bout en bout. Appuyez pour plus d'informations.
12/03/2026 à 14:05 - Les messages et les appels sont chiffrés de bout en bout. Aucun tiers, pas même WhatsApp, ne peut les lire ou les écouter. Appuyez pour en savoir plus.
12/03/2026 à 14:05 - Marie a créé le groupe « Rando »
12/03/2026 à 14:06 - Marie vous a ajouté
12/03/2026 à 14:07 - Paul a rejoint ce groupe via le lien d’invitation
12/03/2026 à 14:08 - Marie a modifié le sujet de « Rando » en « Rando : dimanche 15 »
12/03/2026 à 14:09 - Marie: On part à 8 h ? Réponse : oui ou non
12/03/2026 à 14:10 - Paul: <Médias omis>
12/03/2026 à 14:11 - Paul: Ce message a été supprimé
12/03/2026 à 14:12 - Marie: Vous avez supprimé ce message
13/03/2026 à 09:00 - Paul: Oui ! <Ce message a été modifié>
13/03/2026 à 09:01 - Paul: IMG-20260313-WA0005.jpg (fichier joint)
13/03/2026 à 09:02 - Paul est parti
"""


def test_french_android_group_with_a_in_the_stamp():
    msgs = wa.messages(FRENCH, "Discussion WhatsApp avec Rando.txt")
    assert {m.chat for m in msgs} == {"Rando"}
    assert said(msgs) == [SYS] * 6 + [
        ("Marie", "text", "On part à 8 h ? Réponse : oui ou non"), ("Paul", "media", ""),
        ("Paul", "system", ""), ("Marie", "system", ""), ("Paul", "text", "Oui !"),
        ("Paul", "media", ""), SYS]
    assert msgs[0].ts == local(2025, 9, 26, 22, 39)
    assert msgs[6].ts == local(2026, 3, 12, 14, 9)


def test_french_ios_and_swiss_stamps():
    text = ("[12/03/2026 14:05:33] Marie: \u200eLes messages et les appels sont chiffrés de bout "
            "en bout. Aucun tiers, pas même WhatsApp, ne peut les lire ou les écouter.\n"
            "[12/03/2026 14:06:01] Marie: Salut\n"
            "[12/03/2026 14:07:12] Paul: Appel vocal manqué\n"
            "[13/03/2026 08:00:00] Paul: Coucou\n")
    msgs = wa.messages(text, "_chat.txt")
    assert {m.chat for m in msgs} == {"Marie"}
    assert words(msgs) == [("Marie", "Salut"), ("Paul", "Coucou")]
    assert msgs[3].ts == local(2026, 3, 13, 8, 0, 0)
    (swiss,) = wa.messages("02.05.18 à 18:00 - Michel: Salut", "x.txt")
    assert (swiss.speaker, swiss.text, swiss.ts) == ("Michel", "Salut", local(2018, 5, 2, 18, 0))


PORTUGUESE = """\
12/03/2026 14:05 - As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta e ficam somente entre você e os participantes desta conversa. Nem mesmo o WhatsApp pode ler ou ouvi-las. Toque para saber mais.
12/03/2026 14:05 - Ana criou o grupo "Churrasco"
12/03/2026 14:06 - Ana adicionou você
12/03/2026 14:07 - João entrou usando o link de convite deste grupo
12/03/2026 14:08 - Ana mudou o nome de "Churrasco" para "Churrasco: domingo"
12/03/2026 14:09 - Ana: Quem leva o carvão?
12/03/2026 14:10 - João: <Mídia oculta>
12/03/2026 14:11 - João: Mensagem apagada
12/03/2026 14:11 - João: Esta mensagem foi apagada
12/03/2026 14:12 - Ana: Você apagou esta mensagem
13/03/2026 09:00 - João: Eu levo <Mensagem editada>
13/03/2026 09:01 - João: IMG-20260313-WA0006.jpg (arquivo anexado)
13/03/2026 09:02 - João saiu
"""


def test_portuguese_brazil_android_group_without_comma():
    msgs = wa.messages(PORTUGUESE, "Conversa do WhatsApp com Churrasco.txt")
    assert {m.chat for m in msgs} == {"Churrasco"}
    assert said(msgs) == [SYS] * 5 + [
        ("Ana", "text", "Quem leva o carvão?"), ("João", "media", ""), ("João", "system", ""),
        ("João", "system", ""), ("Ana", "system", ""), ("João", "text", "Eu levo"),
        ("João", "media", ""), SYS]
    assert msgs[5].ts == local(2026, 3, 12, 14, 9)


ITALIAN = """\
12/03/26, 14:05 - I messaggi e le chiamate sono crittografati end-to-end. Nessuno al di fuori di questa chat, nemmeno WhatsApp, può leggerli o ascoltarli. Tocca per saperne di più.
12/03/26, 14:05 - Giulia ha creato il gruppo "Calcetto"
12/03/26, 14:06 - Giulia ti ha aggiunto
12/03/26, 14:07 - Marco si è unito tramite il link d'invito del gruppo
12/03/26, 14:08 - Giulia ha cambiato l'oggetto da "Calcetto" a "Calcetto: giovedì"
12/03/26, 14:09 - Giulia: Chi porta il pallone?
12/03/26, 14:10 - Marco: <Media omessi>
12/03/26, 14:11 - Marco: Questo messaggio è stato eliminato
12/03/26, 14:12 - Giulia: Hai eliminato questo messaggio
13/03/26, 09:00 - Marco: Io! <Questo messaggio è stato modificato>
13/03/26, 09:01 - Marco: IMG-20260313-WA0007.jpg (file allegato)
13/03/26, 09:02 - Marco: Chiamata vocale persa
13/03/26, 09:03 - Marco è uscito
"""


def test_italian_android_group():
    msgs = wa.messages(ITALIAN, "Chat WhatsApp con Calcetto.txt")
    assert {m.chat for m in msgs} == {"Calcetto"}
    assert said(msgs) == [SYS] * 5 + [
        ("Giulia", "text", "Chi porta il pallone?"), ("Marco", "media", ""),
        ("Marco", "system", ""), ("Giulia", "system", ""), ("Marco", "text", "Io!"),
        ("Marco", "media", ""), ("Marco", "system", ""), SYS]
    assert msgs[9].ts == local(2026, 3, 13, 9, 0)


DUTCH = """\
12-03-2026 14:05 - Berichten en oproepen worden end-to-end versleuteld. Niemand buiten deze chat kan ze lezen of beluisteren, zelfs WhatsApp niet. Tik voor meer informatie.
12-03-2026 14:05 - Sanne heeft de groep "Fietsen" aangemaakt
12-03-2026 14:06 - Sanne heeft je toegevoegd
12-03-2026 14:07 - Daan neemt deel via de uitnodigingslink van deze groep
12-03-2026 14:08 - Sanne heeft het onderwerp gewijzigd van "Fietsen" naar "Fietsen: zondag"
12-03-2026 14:09 - Sanne: Wie fietst er zondag mee?
12-03-2026 14:10 - Daan: <Media weggelaten>
12-03-2026 14:11 - Daan: Dit bericht is verwijderd
12-03-2026 14:12 - Sanne: Je hebt dit bericht verwijderd
13-03-2026 09:00 - Daan: Ik! <Dit bericht is bewerkt>
13-03-2026 09:01 - Daan: IMG-20260313-WA0008.jpg (bestand bijgevoegd)
13-03-2026 09:02 - Daan heeft de groep verlaten
"""


def test_dutch_android_group():
    msgs = wa.messages(DUTCH, "WhatsApp-chat met Fietsen.txt")
    assert {m.chat for m in msgs} == {"Fietsen"}
    assert said(msgs) == [SYS] * 5 + [
        ("Sanne", "text", "Wie fietst er zondag mee?"), ("Daan", "media", ""),
        ("Daan", "system", ""), ("Sanne", "system", ""), ("Daan", "text", "Ik!"),
        ("Daan", "media", ""), SYS]
    assert msgs[9].ts == local(2026, 3, 13, 9, 0)


def test_unknown_language_system_lines_are_skipped_by_shape():
    text = ("12.03.2026 14:05 - Mehmet gruptan ayrıldı\n"
            "12.03.2026 14:06 - Ania utworzyła grupę „Wycieczka”\n"
            "12.03.2026 14:07 - Ania zmieniła temat na „Wycieczka: sobota”\n"
            "12.03.2026 14:08 - Ania: Kto jedzie?\n")
    assert said(wa.messages(text, "x.txt")) == [SYS, SYS, SYS, ("Ania", "text", "Kto jedzie?")]


@pytest.mark.parametrize("speaker", ["Marie-Anne Dupont", "Ha Nguyen", "Ana de Sá", "Jan de Vries"])
def test_ordinary_names_stay_speakers(speaker):
    (msg,) = wa.messages(f"12/03/2026 14:05 - {speaker}: Réunion : jeudi", "x.txt")
    assert (msg.speaker, msg.kind, msg.text) == (speaker, "text", "Réunion : jeudi")


@pytest.mark.parametrize("member, chat", [
    ("WhatsApp Chat mit Ben.txt", "Ben"), ("Chat de WhatsApp con Ben.txt", "Ben"),
    ("Discussion WhatsApp avec Ben.txt", "Ben"), ("Conversa do WhatsApp com Ben.txt", "Ben"),
    ("Chat WhatsApp con Ben.txt", "Ben"), ("WhatsApp-chat met Ben.txt", "Ben")])
def test_a_zip_with_a_localised_chat_file_name(member, chat):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, "12.03.26, 14:09 - Ben: Hallo Anna\n12.03.26, 14:10 - Anna: Hallo\n")
        zf.writestr("IMG-20260312-WA0001.jpg", b"\xff\xd8")
    parsed = parse(Source("export.zip", raw=buf.getvalue()))
    assert parsed.format == "whatsapp"
    assert [(m.chat, m.speaker, m.text) for m in parsed.messages] == [
        (chat, "Ben", "Hallo Anna"), (chat, "Anna", "Hallo")]


@pytest.mark.parametrize("text", [
    "Je suis absente demain", "image absente ?", "Nachrichten bei Signal sind auch "
    "Ende-zu-Ende-verschlüsselt", "Llamada perdida de mamá, ¿qué quería?",
    "Dit bericht is verwijderd door wie?", "Mensagem apagada sem querer 😅",
    "<3", "Réunion : <salle B>"])
def test_words_about_such_things_stay_words(text):
    (msg,) = wa.messages(f"12/03/2026 14:05 - Ana: {text}", "x.txt")
    assert (msg.speaker, msg.kind, msg.text) == ("Ana", "text", text)
