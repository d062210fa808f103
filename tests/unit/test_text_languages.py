"""Each language's numbers, dates, times, money, ordinals, units and abbreviations, as native
speakers say them (tables written from native usage, not from the code's output)."""

from __future__ import annotations

import pytest

from voxserve.text.normalize import normalize_text
from voxserve.text.prepare import TextOptions, prepare

GERMAN = [
    ("Am 3. Mai um 14:30 Uhr kostete es 25,50 € bei Dr. Müller.",
     "Am dritten Mai um vierzehn Uhr dreißig kostete es fünfundzwanzig Euro fünfzig bei "
     "Doktor Müller."),
    ("Der 3. Platz", "Der dritte Platz"),
    ("Heute ist der 1. Januar 2024.", "Heute ist der erste Januar zweitausendvierundzwanzig."),
    ("Berlin, 24.12.2023", "Berlin, vierundzwanzigster Dezember zweitausenddreiundzwanzig"),
    ("Um 9 Uhr", "Um neun Uhr"),
    ("Um 1:00 Uhr", "Um ein Uhr"),
    ("Es kostet 1 €.", "Es kostet ein Euro."),
    ("Es kostet 0,99 €.", "Es kostet neunundneunzig Cent."),
    ("Es kostet 1.234,50 €.", "Es kostet eintausendzweihundertvierunddreißig Euro fünfzig."),
    ("3,14 m", "drei Komma eins vier Meter"),
    ("50 %", "fünfzig Prozent"),
    ("120 km/h", "einhundertzwanzig Kilometer pro Stunde"),
    ("Im Jahr 1999 kamen 1999 Leute.",
     "Im Jahr neunzehnhundertneunundneunzig kamen eintausendneunhundertneunundneunzig Leute."),
    ("Äpfel, Birnen usw. Dann", "Äpfel, Birnen und so weiter. Dann"),
    ("z. B. Äpfel und z.B. Birnen", "zum Beispiel Äpfel und zum Beispiel Birnen"),
    ("Nr. 5", "Nummer fünf"),
    ("-5 Grad", "minus fünf Grad"),
]

SPANISH = [
    ("El 3 de mayo de 2024", "El tres de mayo de dos mil veinticuatro"),
    ("El 1 de mayo", "El primero de mayo"),
    ("a las 14:30", "a las catorce y treinta"),
    ("a la 1:00", "a la una en punto"),
    ("Cuesta 25,50 €.", "Cuesta veinticinco euros con cincuenta céntimos."),
    ("Cuesta 1 €.", "Cuesta un euro."),
    ("Cuesta 21 €.", "Cuesta veintiún euros."),
    ("Vive en el 1.º piso, la 2.ª puerta.", "Vive en el primer piso, la segunda puerta."),
    ("el 1er piso", "el primer piso"),
    ("llegó el 3.º", "llegó el tercero"),
    ("El Sr. García y la Dra. López", "El señor García y la doctora López"),
    ("15 km", "quince kilómetros"),
    ("1 km", "un kilómetro"),
    ("3,5 %", "tres coma cinco por ciento"),
    ("03/05/2024", "tres de mayo de dos mil veinticuatro"),
]

FRENCH = [
    ("Le 1er mai à 14h30", "Le premier mai à quatorze heures trente"),
    ("à 14:30", "à quatorze heures trente"),
    ("à 1h", "à une heure"),
    ("à 21h", "à vingt et une heures"),
    ("Ça coûte 25,50 €.", "Ça coûte vingt-cinq euros cinquante."),
    ("M. Dupont et Mme Durand", "Monsieur Dupont et Madame Durand"),
    ("au 2e étage, la 1re fois", "au deuxième étage, la première fois"),
    ("3 200 personnes", "trois mille deux cents personnes"),
    ("3,5 kg", "trois virgule cinq kilogrammes"),
    ("le 14 juillet 1789", "le quatorze juillet mille sept cent quatre-vingt-neuf"),
]

PORTUGUESE = [
    ("Em 3 de maio às 14h30", "Em três de maio às catorze e trinta"),
    ("às 14:30", "às catorze e trinta"),
    ("à 1h", "à uma hora"),
    ("Custou R$ 25,50.", "Custou vinte e cinco reais e cinquenta centavos."),
    ("Custou 25,50 €.", "Custou vinte e cinco euros e cinquenta cêntimos."),
    ("o 1º andar e a 2ª vez", "o primeiro andar e a segunda vez"),
    ("O Sr. Silva e a Dra. Costa", "O senhor Silva e a doutora Costa"),
    ("10 km", "dez quilômetros"),
    ("03/05/2024", "três de maio de dois mil e vinte e quatro"),
]

ITALIAN = [
    ("Il 1° maggio alle 14:30", "Il primo maggio alle quattordici e trenta"),
    ("Costa 25,50 €.", "Costa venticinque euro e cinquanta."),
    ("Costa 1 €.", "Costa un euro."),
    ("il Dott. Rossi e la Sig.ra Bianchi", "il dottor Rossi e la signora Bianchi"),
    ("la 3ª fila, il 2º posto", "la terza fila, il secondo posto"),
    ("20%", "venti per cento"),
    ("3,5 km", "tre virgola cinque chilometri"),
    ("uova, latte ecc. Poi", "uova, latte eccetera. Poi"),
]

PERSIAN = [
    ("ساعت ۱۴:۳۰", "ساعت چهارده و سی دقیقه"),
    ("۱۲٬۵۰۰ نفر", "دوازده هزار و پانصد نفر"),
    ("۳٫۵ کیلو", "سه ممیز پنج کیلو"),
    ("۲۵ ٪", "بیست و پنج درصد"),
    ("۱۴۰۳/۰۲/۱۳", "سیزده اردیبهشت هزار و چهارصد و سه"),
    ("۱۳ اردیبهشت ۱۴۰۳", "سیزده اردیبهشت هزار و چهارصد و سه"),
    ("2024/05/03", "سه مه دو هزار و بیست و چهار"),  # a Gregorian year: Gregorian months
    ("فصل ۳م", "فصل سوم"),
    ("٣ کتاب", "سه کتاب"),  # Arabic-Indic digits too
    ("12 کتاب", "دوازده کتاب"),
    ("می\u200cخواهم ۳ کتاب", "می\u200cخواهم سه کتاب"),  # the zero-width non-joiner stays
]

TABLES = [("de", GERMAN), ("es", SPANISH), ("fr", FRENCH), ("pt", PORTUGUESE),
          ("it", ITALIAN), ("fa", PERSIAN)]
CASES = [(language, raw, said) for language, table in TABLES for raw, said in table]


@pytest.mark.parametrize(("language", "raw", "said"), CASES)
def test_native_reading(language: str, raw: str, said: str) -> None:
    assert normalize_text(raw, language) == said


@pytest.mark.parametrize("language", ["de_DE", "es-MX", "pt_BR", "fr-CA", "it_IT", "fa_IR"])
def test_region_tags_use_the_language(language: str) -> None:
    """Piper voice configs give "de_DE" (language.code) or "de" (espeak.voice)."""
    assert normalize_text("7", language) != "7"
    assert normalize_text("7", language) != "seven"


@pytest.mark.parametrize(
    ("language", "raw", "said"),
    [
        ("nl", "Ik heb 3 katten.", "Ik heb drie katten."),  # num2words knows Dutch
        ("nl", "Dr. Jansen om 14:30", "Dr. Jansen om veertien:dertig"),  # no English rules
        ("sw", "Nina 3 paka & Dr. X", "Nina 3 paka & Dr. X"),  # left to espeak
    ],
)
def test_unsupported_languages_get_no_english_rules(language: str, raw: str, said: str) -> None:
    assert normalize_text(raw, language) == said
    assert "Doctor" not in normalize_text(raw, language)


def test_german_voice_subtitles_show_the_users_words() -> None:
    text = "Am 3. Mai um 14:30 Uhr kostete es 25,50 € bei Dr. Müller. Danke!"
    plan = prepare(text, TextOptions(language="de"))
    assert [s.source_text for s in plan.segments] == [
        "Am 3. Mai um 14:30 Uhr kostete es 25,50 € bei Dr. Müller.", "Danke!"]
    assert plan.segments[0].text.startswith("Am dritten Mai um vierzehn Uhr dreißig")
    assert plan.segments[0].language == "de"


@pytest.mark.parametrize(
    ("language", "text", "sentences"),
    [
        ("de", "Er kam am 3. Mai. Dann ging er.", ["Er kam am dritten Mai.", "Dann ging er."]),
        ("es", "¿Vienes? Sí, a las 14:30.", ["¿Vienes?", "Sí, a las catorce y treinta."]),
        ("pt", "O Sr. Silva chegou. Ele saiu.", ["O senhor Silva chegou.", "Ele saiu."]),
        ("fa", "او آمد. ما رفتیم؟ بله.", ["او آمد.", "ما رفتیم؟", "بله."]),
    ],
)
def test_sentences_split_in_the_language(language: str, text: str, sentences: list[str]) -> None:
    plan = prepare(text, TextOptions(language=language))
    assert [s.text for s in plan.segments] == sentences
