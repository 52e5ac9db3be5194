"""A labelled corpus of invented alert texts for measuring the personal-data check.

Every name, address, number and handle here is invented. The corpus was written before the
detector, from how professionals in the network write case talk, and is not tuned to it:
texts the check misses stay in and count against it.

`IDENTIFYING` texts each contain one labelled piece of personal data (`excerpt`, which must
occur in the text); a text counts as found when a finding overlaps that excerpt, blocking or
for confirmation. `PSEUDONYMOUS` texts identify nobody; any blocking finding in them is a
refusal, any other finding a confirmation the sender did not need.
"""

from __future__ import annotations

from typing import NamedTuple


class Sample(NamedTuple):
    kind: str  # identifying: what the excerpt is; pseudonymous: what the text shows
    text: str
    excerpt: str = ""


NAME, ADDRESS, PLATE, HANDLE, ID = "name", "address", "licence_plate", "handle", "id_number"
PHONE, EMAIL, IBAN, BIRTH = "phone", "email", "iban", "birth_date"

IDENTIFYING = [
    # --- names: title or form of address + name ------------------------------------------------
    Sample(NAME, "Frau Sabine Müller wurde gestern erneut bedroht.", "Sabine Müller"),
    Sample(
        NAME,
        "Übergriff durch Herrn Dieter Kowalski am Wochenende, Polizei war vor Ort.",
        "Dieter Kowalski",
    ),
    Sample(NAME, "Herr Brandt hat das Annäherungsverbot mehrfach missachtet.", "Brandt"),
    Sample(NAME, "Frau Yilmaz sucht dringend einen Platz im Frauenhaus.", "Yilmaz"),
    Sample(
        NAME,
        "Frau Aylin Yılmaz und ihre zwei Kinder brauchen heute noch eine Unterkunft.",
        "Aylin Yılmaz",
    ),
    Sample(
        NAME,
        "Die Mutter, Frau Katarzyna Nowak, bittet um Rückruf durch das Jugendamt.",
        "Katarzyna Nowak",
    ),
    Sample(NAME, "Familie Schulz ist dem Jugendamt seit 2023 bekannt.", "Schulz"),
    Sample(NAME, "Familie Nguyen braucht eine Dolmetscherin für Vietnamesisch.", "Nguyen"),
    Sample(NAME, "Frau Nguyen Thi Lan wurde von ihrem Mann eingesperrt.", "Nguyen Thi Lan"),
    Sample(NAME, "Frau Dr. Weber aus der Kinderklinik meldet Verdacht auf Misshandlung.", "Weber"),
    Sample(NAME, "Herr Kleinschmidt (Vater) erscheint nicht zu den Terminen.", "Kleinschmidt"),
    Sample(NAME, "Hr. Wolff hat die Kinder nicht zurückgebracht.", "Wolff"),
    Sample(NAME, "Fr. Becker bittet um Begleitung zum Gericht.", "Becker"),
    Sample(NAME, "Großmutter Frau Engel nimmt die Kinder vorübergehend auf.", "Engel"),
    Sample(NAME, "Die Tochter von Frau Richter war heute nicht in der Schule.", "Richter"),
    Sample(NAME, "Frau Schmidt-Hauser möchte anonym bleiben.", "Schmidt-Hauser"),
    Sample(NAME, "Frau Özdemir hat eine Gewaltschutzanordnung beantragt.", "Özdemir"),
    Sample(NAME, "Herrn Wojciechowski wurde die Wohnung zugewiesen.", "Wojciechowski"),
    Sample(NAME, "Mutter: Frau Kerstin Albrecht, Vater: Herr Thomas Albrecht", "Kerstin Albrecht"),
    Sample(NAME, "Die Oma (Frau Gerda Lange) hat das Sorgerecht beantragt.", "Gerda Lange"),
    Sample(NAME, "Frau Ewa Wiśniewska hat Angst, nach Hause zu gehen.", "Ewa Wiśniewska"),
    Sample(NAME, "Herr Hoang Van Duc ist als Täter polizeibekannt.", "Hoang Van Duc"),
    Sample(
        NAME,
        "Frau Aleksandra Shevchenko spricht nur Ukrainisch und Russisch.",
        "Aleksandra Shevchenko",
    ),
    Sample(NAME, "Kind: Finn (5), Mutter: Frau Jansen", "Jansen"),
    Sample(
        NAME,
        "Frau Hanna Kühn hat sich im Frauenhaus gemeldet und möchte beraten werden.",
        "Hanna Kühn",
    ),
    Sample(NAME, "frau sabine müller hat sich erneut gemeldet", "sabine müller"),
    Sample(NAME, "herr kowalski stand wieder vor der schule", "kowalski"),
    Sample(NAME, "FRAU PETERSEN IST IN GEFAHR, BITTE SOFORT MELDEN", "PETERSEN"),
    Sample(NAME, "Frua Schneider hat heute die Wohnung verlassen.", "Schneider"),  # typo in "Frau"
    Sample(NAME, "Frau Sabien Mülller ist wieder bei ihm eingezogen.", "Sabien Mülller"),  # typos
    Sample(NAME, "Gestern rief Frau Hinrichs an: Ihr Mann hat sie gewürgt.", "Hinrichs"),
    Sample(NAME, "Mrs Sarah Thompson was threatened again last night.", "Sarah Thompson"),
    Sample(NAME, "Mr Patel has been seen near the refuge.", "Patel"),
    Sample(NAME, "Ms Kowalczyk asked for an interpreter at the hearing.", "Kowalczyk"),
    # --- names: relation + name -------------------------------------------------------------
    Sample(NAME, "Tochter Lea (6) und Sohn Ben (9) sind in Obhut.", "Lea"),
    Sample(NAME, "Kindsvater Marcel Schröder droht mit Mitnahme des Kindes.", "Marcel Schröder"),
    Sample(NAME, "Ex-Partner Dennis Hoffmann hat ihr vor der Kita aufgelauert.", "Dennis Hoffmann"),
    Sample(
        NAME, "Stiefvater Andreas steht im Verdacht, die Tochter missbraucht zu haben.", "Andreas"
    ),
    Sample(NAME, "Lebensgefährte Sergej bedroht die Familie seit Wochen.", "Sergej"),
    Sample(NAME, "Ehemann Mehmet hat ihr das Handy abgenommen.", "Mehmet"),
    Sample(NAME, "Mutter Fatima (28) lebt mit drei Kindern in einer Notunterkunft.", "Fatima"),
    Sample(NAME, "Vater Ahmad Al-Hassan verweigert den Umgang.", "Ahmad Al-Hassan"),
    Sample(
        NAME, "Natalia Kowalczyk und ihre Tochter Zofia sind im Frauenhaus angekommen.", "Zofia"
    ),
    Sample(NAME, "Sohn Leon besucht die 3. Klasse und wirkt verängstigt.", "Leon"),
    Sample(NAME, "Tochter Sophie-Marie hat sich der Lehrerin anvertraut.", "Sophie-Marie"),
    Sample(NAME, "Oma Gisela kümmert sich derzeit um die Enkel.", "Gisela"),
    Sample(NAME, "Bruder Timo (17) ist ebenfalls betroffen.", "Timo"),
    Sample(NAME, "Schwester Jana hat die Polizei gerufen.", "Jana"),
    Sample(NAME, "Onkel Viktor soll die Mädchen bedrängt haben.", "Viktor"),
    Sample(NAME, "Cousin Ali hat ihr gedroht.", "Ali"),
    Sample(NAME, "Ehefrau Elena Popescu ist schwanger und hochgefährdet.", "Elena Popescu"),
    Sample(NAME, "Partnerin Svetlana meldet, dass er eine Waffe besitzt.", "Svetlana"),
    Sample(NAME, "Tochter Aleyna, 13 Jahre, ist schwanger.", "Aleyna"),
    Sample(NAME, "Sohn Ömer (11) geht nicht mehr zur Schule.", "Ömer"),
    Sample(NAME, "Täterin Sandra Vogel ist die Stiefmutter.", "Sandra Vogel"),
    Sample(NAME, "Kontaktperson im Umfeld: Nachbar Uwe Pohl", "Uwe Pohl"),
    Sample(NAME, "Ex-Freund Nico Berger verfolgt sie mit dem Auto.", "Nico Berger"),
    Sample(NAME, "Gefährder Ronny Lehmann wurde aus der Haft entlassen.", "Ronny Lehmann"),
    Sample(NAME, "Die Mutter heißt Melanie, der Vater Patrick.", "Melanie"),
    Sample(NAME, "Stiefsohn Kilian hat die jüngeren Geschwister geschlagen.", "Kilian"),
    Sample(NAME, "Enkelin Paulina lebt seit dem Sommer bei der Großmutter.", "Paulina"),
    Sample(NAME, "Pflegevater Bernd ist mit der Situation überfordert.", "Bernd"),
    Sample(
        NAME, "Freund Kemal holt sie jeden Tag von der Arbeit ab und kontrolliert sie.", "Kemal"
    ),
    Sample(NAME, "Die Nachbarin Frau K. sagt, Ehemann Jörg schlägt regelmäßig zu.", "Jörg"),
    Sample(
        NAME, "Kindesmutter Daria Sokolova ist mit den Kindern untergetaucht.", "Daria Sokolova"
    ),
    Sample(NAME, "tochter lea (6) ist bei der oma", "lea"),
    Sample(NAME, "sohn mehmet (12) will nicht mehr nach hause", "mehmet"),
    Sample(NAME, "Ex-Partner Rico hat wieder Kontakt aufgenommen.", "Rico"),
    Sample(NAME, "Tochter Jolina (15) hat sich selbst verletzt.", "Jolina"),
    Sample(NAME, "Daughter Chloe (7) disclosed abuse at school.", "Chloe"),
    Sample(
        NAME, "Her ex-partner, James O'Connor, breached the protection order.", "James O'Connor"
    ),
    Sample(NAME, "Son Oliver is staying with his grandmother for now.", "Oliver"),
    # --- names: given name + family name, inside sentences -------------------------------------
    Sample(NAME, "Kevin Neumann ist erneut gewalttätig geworden.", "Kevin Neumann"),
    Sample(NAME, "Aylin Demir hat sich bei der Beratungsstelle gemeldet.", "Aylin Demir"),
    Sample(NAME, "Olga Petrowa ist mit den Kindern zu ihrer Schwester geflüchtet.", "Olga Petrowa"),
    Sample(
        NAME,
        "Lisa-Marie Krüger (16) ist seit Freitag nicht mehr in der Einrichtung aufgetaucht.",
        "Lisa-Marie Krüger",
    ),
    Sample(
        NAME,
        "Oksana Kovalenko ist aus Charkiw geflohen und wird vom Ex-Mann bedroht.",
        "Oksana Kovalenko",
    ),
    Sample(NAME, "Täter: Jürgen Baumann, 52, wohnt weiterhin im selben Ort.", "Jürgen Baumann"),
    Sample(NAME, "Betroffene: Marie Schubert, 34 Jahre, zwei Kinder.", "Marie Schubert"),
    Sample(NAME, "Die Klientin Jasmin Wolf ist heute nicht zum Termin erschienen.", "Jasmin Wolf"),
    Sample(NAME, "Ich habe mit Anja Hartmann gesprochen, sie will keine Anzeige.", "Anja Hartmann"),
    Sample(NAME, "Er heißt Tobias Krämer und arbeitet beim Bauhof.", "Tobias Krämer"),
    Sample(NAME, "Sebastian Graf hat die Wegweisung ignoriert.", "Sebastian Graf"),
    Sample(NAME, "Anh Tran (15) ist von zu Hause weggelaufen.", "Anh Tran"),
    Sample(NAME, "Dmitri Iwanow hat gegen die Schutzanordnung verstoßen.", "Dmitri Iwanow"),
    Sample(NAME, "Hatice Kaya kam mit Hämatomen in die Notaufnahme.", "Hatice Kaya"),
    Sample(NAME, "Bitte auf Justin Meier achten, er hält sich oft am Bahnhof auf.", "Justin Meier"),
    Sample(NAME, "Jonas Fischer (19) hat die Freundin geschlagen.", "Jonas Fischer"),
    Sample(
        NAME,
        "Gestern hat Nicole Braun wieder bei uns angerufen und um Hilfe gebeten.",
        "Nicole Braun",
    ),
    Sample(NAME, "ANNA SCHMIDT hat Anzeige erstattet.", "ANNA SCHMIDT"),
    Sample(NAME, "Tim Sommer wurde gestern am Spielplatz gesehen.", "Tim Sommer"),
    Sample(NAME, "Rüdiger Voß ist ihr Vermieter und bedrängt sie.", "Rüdiger Voß"),
    Sample(
        NAME, "Natalia Kowalczyk ist mit der Tochter im Frauenhaus angekommen.", "Natalia Kowalczyk"
    ),
    Sample(NAME, "kevin neumann ist wieder aufgetaucht, bitte alle wachsam sein", "kevin neumann"),
    Sample(NAME, "laut polizei hat stefanie wagner die wohnung verlassen", "stefanie wagner"),
    Sample(NAME, "Kevn Neumann ist wieder in der Stadt.", "Kevn Neumann"),  # typo in the given name
    Sample(NAME, "Der Vermieter Mustafa Aydın hat die Polizei informiert.", "Mustafa Aydın"),
    Sample(
        NAME,
        "Yevhen Bondarenko ist Vater der beiden Kinder und sehr aggressiv.",
        "Yevhen Bondarenko",
    ),
    Sample(
        NAME, "Piotr Zieliński wurde nach dem Einsatz in Gewahrsam genommen.", "Piotr Zieliński"
    ),
    Sample(NAME, "The mother, Jessica Brown, needs an interpreter.", "Jessica Brown"),
    Sample(NAME, "Emily Wilson (16) has run away from home.", "Emily Wilson"),
    # --- names: birth names, given names with an age, given names alone -----------------------
    Sample(NAME, "Frau S., geb. Wagner, ist wieder zu ihm zurückgekehrt.", "Wagner"),
    Sample(NAME, "Frau K. (geb. Lehmann) hat Anzeige erstattet.", "Lehmann"),
    Sample(NAME, "Die Mutter, geborene Hoffmann, lebt jetzt in Schwerin.", "Hoffmann"),
    Sample(NAME, "Frau M. geb. Kaczmarek spricht wenig Deutsch.", "Kaczmarek"),
    Sample(NAME, "Die Kinder Emma (4) und Noah (7) wurden in Obhut genommen.", "Emma"),
    Sample(NAME, "Mia (3) hat blaue Flecken am Rücken, Kita hat informiert.", "Mia"),
    Sample(NAME, "Yusuf (14) hat in der Schule von Schlägen zu Hause erzählt.", "Yusuf"),
    Sample(NAME, "Die kleine Amira (2) wurde mit Verbrennungen eingeliefert.", "Amira"),
    Sample(NAME, "Zeynep und Elif (Zwillinge, 8) sind beim Vater.", "Elif"),
    Sample(NAME, "Paul (8) und Greta (5) leben beim Vater.", "Paul"),
    Sample(NAME, "Laut Schule kommt Maximilian oft mit Verletzungen.", "Maximilian"),
    Sample(NAME, "Marvin hat der Mutter mit dem Messer gedroht.", "Marvin"),
    Sample(NAME, "Jamal, 16, ist in der Wohngruppe nicht mehr sicher.", "Jamal"),
    Sample(NAME, "Noah (7 J.) ist seit Montag nicht in der Schule gewesen.", "Noah"),
    # --- addresses ----------------------------------------------------------------------------
    Sample(ADDRESS, "Übergriff im Haus Lange Straße 5.", "Lange Straße 5"),
    Sample(ADDRESS, "Sie wohnt jetzt in der Wohnung Am Bahnhof 7, 3. OG links.", "Am Bahnhof 7"),
    Sample(ADDRESS, "Vor dem Haus Kastanienallee 23 wartet er jeden Abend.", "Kastanienallee 23"),
    Sample(ADDRESS, "Wohnung: Rosa-Luxemburg-Str. 14, 2. OG rechts", "Rosa-Luxemburg-Str. 14"),
    Sample(ADDRESS, "Neue Adresse: Dorfstraße 9, 18055 Rostock", "Dorfstraße 9"),
    Sample(
        ADDRESS, "Sie ist zu ihrer Mutter in den Mühlenweg 3 in Bentwisch gezogen.", "Mühlenweg 3"
    ),
    Sample(
        ADDRESS, "Tatort: Wohnung in der Goethestraße 12a, Hinterhaus, 1. Etage", "Goethestraße 12a"
    ),
    Sample(ADDRESS, "wohnhaft in der hauptstr. 4, erdgeschoss", "hauptstr. 4"),
    Sample(ADDRESS, "Adresse Schillerplatz 2 / EG", "Schillerplatz 2"),
    Sample(
        ADDRESS,
        "Es passierte im Haus Nr. 12 in der Fritz-Reuter-Straße.",
        "Nr. 12 in der Fritz-Reuter-Straße",
    ),
    Sample(ADDRESS, "Er wohnt direkt gegenüber, Parkstraße 33, 4. OG.", "Parkstraße 33"),
    Sample(ADDRESS, "Lütten Klein, Ahornweg 6, Wohnung 14", "Ahornweg 6"),
    Sample(ADDRESS, "Sie lebt in 17489 Greifswald bei ihrer Schwester.", "17489 Greifswald"),
    Sample(
        ADDRESS,
        "Schlüssel liegt beim Nachbarn, Karl-Liebknecht-Ring 8, 5. Stock",
        "Karl-Liebknecht-Ring 8",
    ),
    Sample(ADDRESS, "Einsatz in der Wohnung Bahnhofstr 17, Polizei vor Ort", "Bahnhofstr 17"),
    Sample(ADDRESS, "Vorfall vor dem Haus Warnowufer 60", "Warnowufer 60"),
    Sample(
        ADDRESS,
        "Sie ist bei einer Freundin untergekommen, Ziolkowskistraße 4",
        "Ziolkowskistraße 4",
    ),
    Sample(ADDRESS, "Adresse: Straße der Jugend 22, Whg. 3", "Straße der Jugend 22"),
    Sample(
        ADDRESS,
        "Wohnhaft: Neubrandenburger Str. 101, 17033 Neubrandenburg",
        "Neubrandenburger Str. 101",
    ),
    Sample(ADDRESS, "Mutter wohnt Kirchgasse 2, Dachgeschoss", "Kirchgasse 2"),
    Sample(ADDRESS, "Unterkunft in der Gartenstraße Nr. 5", "Gartenstraße Nr. 5"),
    Sample(
        ADDRESS,
        "Er wartet regelmäßig im Treppenhaus Thomas-Müntzer-Platz 41.",
        "Thomas-Müntzer-Platz 41",
    ),
    Sample(
        ADDRESS,
        "Der Übergriff passierte in der Wohnung Schwaaner Straße 12, 2. OG links.",
        "Schwaaner Straße 12",
    ),
    Sample(ADDRESS, "sie wohnt jetzt in der mühlenstraße 8", "mühlenstraße 8"),
    Sample(ADDRESS, "Er steht oft vor dem Haus in der Ulmenstraße 3.", "Ulmenstraße 3"),
    Sample(ADDRESS, "Wohnung 3. OG links, Am Kabutzenhof 2", "Am Kabutzenhof 2"),
    Sample(ADDRESS, "Meldeadresse Friedrichstraße 5 in Schwerin", "Friedrichstraße 5"),
    Sample(
        ADDRESS,
        "Polizeieinsatz in der Wohnung Robert-Koch-Str. 3, 1. OG rechts",
        "Robert-Koch-Str. 3",
    ),
    Sample(ADDRESS, "She now lives at 14 Rosemary Lane, second floor.", "14 Rosemary Lane"),
    Sample(ADDRESS, "Incident at 7 Church Road, flat 3.", "7 Church Road"),
    # --- licence plates -------------------------------------------------------------------------
    Sample(PLATE, "Kennzeichen HRO-AB 123", "HRO-AB 123"),
    Sample(PLATE, "Er fährt einen schwarzen Golf, HRO AB 1234.", "HRO AB 1234"),
    Sample(PLATE, "Auto mit Kennzeichen HGW-K 77 vor der Kita gesehen.", "HGW-K 77"),
    Sample(PLATE, "Kennz. DBR-XY 12E (Elektroauto)", "DBR-XY 12E"),
    Sample(PLATE, "Der Täter fährt einen Oldtimer: SN-OT 55H.", "SN-OT 55H"),
    Sample(PLATE, "kennzeichen hro-mk 456", "hro-mk 456"),
    Sample(PLATE, "Fahrzeug: B-MW 2024", "B-MW 2024"),
    Sample(PLATE, "Wagen mit dem Kennzeichen M AB 123 steht vor dem Haus.", "M AB 123"),
    Sample(PLATE, "Weißer Transporter, NB-LP 808, parkt nachts vor dem Frauenhaus.", "NB-LP 808"),
    Sample(PLATE, "Roller mit Kennzeichen VG-A 1", "VG-A 1"),
    Sample(PLATE, "Er kam im roten Opel (LRO-CD 45).", "LRO-CD 45"),
    Sample(PLATE, "Sein Motorrad: HRO-Z 9", "HRO-Z 9"),
    Sample(PLATE, "Car registration HRO-AB 123 seen outside the school.", "HRO-AB 123"),
    Sample(PLATE, "Kennzeichen: HH-DK 4711", "HH-DK 4711"),
    Sample(PLATE, "Er parkt mit dem Wagen GÜ-RS 312 vor ihrer Arbeit.", "GÜ-RS 312"),
    # --- handles --------------------------------------------------------------------------------
    Sample(HANDLE, "Er schreibt ihr über Instagram als @dennis_b_hro.", "@dennis_b_hro"),
    Sample(HANDLE, "Profil: instagram.com/lea.sophie2010", "instagram.com/lea.sophie2010"),
    Sample(HANDLE, "TikTok: @mia.hro.09", "@mia.hro.09"),
    Sample(HANDLE, "Er hat ihr Fotos über t.me/kevin_n88 geschickt.", "t.me/kevin_n88"),
    Sample(HANDLE, "Snapchat-Name: jonas_f2007", "jonas_f2007"),
    Sample(
        HANDLE, "Facebook: facebook.com/sabine.mueller.7399", "facebook.com/sabine.mueller.7399"
    ),
    Sample(HANDLE, "https://www.tiktok.com/@aylin.demir", "tiktok.com/@aylin.demir"),
    Sample(HANDLE, "Sein Telegram ist @sergej_rostock", "@sergej_rostock"),
    Sample(HANDLE, "Sie postet als @lea_loves_ponys", "@lea_loves_ponys"),
    Sample(HANDLE, "In der Klassengruppe schreibt er als @marvin2011", "@marvin2011"),
    Sample(HANDLE, "youtube.com/@kevinzockt", "youtube.com/@kevinzockt"),
    Sample(HANDLE, "Her Instagram handle is @chloe.b.2015", "@chloe.b.2015"),
    Sample(HANDLE, "X-Account @ronny_l_hgw", "@ronny_l_hgw"),
    Sample(
        HANDLE, "Er droht über https://instagram.com/dark_angel_hro", "instagram.com/dark_angel_hro"
    ),
    # --- identity numbers (the check digits are right) ----------------------------------------
    Sample(ID, "Steuer-ID der Mutter: 65929970489", "65929970489"),
    Sample(ID, "Steuerliche Identifikationsnummer 26 954 371 827 liegt vor.", "26 954 371 827"),
    Sample(ID, "IdNr. 86095742719", "86095742719"),
    Sample(ID, "Rentenversicherungsnummer 65 170839 J 003", "65 170839 J 003"),
    Sample(ID, "SV-Nummer: 12 150385 M 127", "12 150385 M 127"),
    Sample(ID, "Sozialversicherungsnummer 53270594W034", "53270594W034"),
    Sample(ID, "Krankenversichertennummer A123456780", "A123456780"),
    Sample(ID, "KVNR: T987654328", "T987654328"),
    Sample(ID, "Versichertennummer der Tochter M123456785", "M123456785"),
    Sample(ID, "Personalausweis-Nr. T220001293", "T220001293"),
    Sample(ID, "Reisepass C01X00T478 wurde vom Vater einbehalten.", "C01X00T478"),
    Sample(ID, "Ausweisnummer L01X00T471", "L01X00T471"),
    Sample(ID, "Steuernummer 181/815/08155", "181/815/08155"),
    # --- phone numbers, e-mail, IBAN, birth dates ---------------------------------------------
    Sample(PHONE, "Handy der Mutter: 0176 23456789", "0176 23456789"),
    Sample(PHONE, "Rückruf unter 0381 1234567", "0381 1234567"),
    Sample(PHONE, "Sie ist unter +49 171 2345678 erreichbar.", "+49 171 2345678"),
    Sample(PHONE, "Tel 0381-44 55 66", "0381-44 55 66"),
    Sample(PHONE, "Er ruft ständig von 0152 12345678 an.", "0152 12345678"),
    Sample(PHONE, "Please call her on +44 7700 900123.", "+44 7700 900123"),
    Sample(PHONE, "WhatsApp 01575 1234567", "01575 1234567"),
    Sample(PHONE, "Nummer des Vaters: 0049 (0) 30 12345678", "0049 (0) 30 12345678"),
    Sample(PHONE, "erreichbar unter 0170/9876543", "0170/9876543"),
    Sample(EMAIL, "Sie schreibt von lea.schmidt2009@web.de", "lea.schmidt2009@web.de"),
    Sample(EMAIL, "Mail: fam.yilmaz@t-online.de", "fam.yilmaz@t-online.de"),
    Sample(EMAIL, "kevin.n@gmx.de schickt ihr Drohungen", "kevin.n@gmx.de"),
    Sample(EMAIL, "Contact: sarah.t@example.co.uk", "sarah.t@example.co.uk"),
    Sample(IBAN, "Unterhalt geht auf DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
    Sample(IBAN, "Konto des Vaters: DE02120300000000202051", "DE02120300000000202051"),
    Sample(IBAN, "iban de44 5001 0517 5407 3249 31", "de44 5001 0517 5407 3249 31"),
    Sample(BIRTH, "Mutter geb. 12.03.1985, zwei Kinder", "12.03.1985"),
    Sample(BIRTH, "Kind *04.07.2019 lebt beim Vater.", "04.07.2019"),
    Sample(BIRTH, "Geburtsdatum 1.2.2016", "1.2.2016"),
    Sample(BIRTH, "Die Tochter ist am 3. Mai 2012 geboren.", "3. Mai 2012"),
    Sample(BIRTH, "DOB 12/03/2015", "12/03/2015"),
    Sample(BIRTH, "Mutter (geb. 23.11.1990) wurde schwer verletzt.", "23.11.1990"),
]

# Categories of the pseudonymous texts.
CASE, AGES, INSTITUTION, PLACE, MEETING, LAW, HELPLINE, NARRATIVE = (
    "case_pseudonym", "ages", "institution", "place", "meeting", "legal", "helpline", "narrative"
)  # fmt: skip

PSEUDONYMOUS = [
    # --- case pseudonyms and initials -----------------------------------------------------------
    Sample(
        CASE, "Fall Linde: Frau L. (34) wurde erneut vom Ex-Partner bedroht, Polizei war vor Ort."
    ),
    Sample(
        CASE,
        "Fall Birke – Mutter mit zwei Kindern (3 und 6) sucht kurzfristig einen Frauenhausplatz.",
    ),
    Sample(
        CASE,
        "Familie Eiche: Kindeswohlgefährdung nach § 8a SGB VIII geprüft, Inobhutnahme erfolgt.",
    ),
    Sample(CASE, "Fall Ahorn: Der Gefährder hat das Kontaktverbot erneut missachtet."),
    Sample(CASE, "Fall Buche, Nachtrag: Frau B. ist sicher im Frauenhaus angekommen."),
    Sample(CASE, "Fall Erle – Herr E. hat nach der Wegweisung die Wohnung wieder betreten."),
    Sample(CASE, "Fall Esche: Tochter (14) hat sich der Schulsozialarbeit anvertraut."),
    Sample(
        CASE,
        "Fall Kastanie: Verdacht auf sexuellen Missbrauch, Kinderschutzambulanz eingeschaltet.",
    ),
    Sample(CASE, "Fall Weide – Klientin möchte Anzeige erstatten und braucht Begleitung."),
    Sample(CASE, "Fall Tanne: Der Vater hat die Kinder nach dem Umgang nicht zurückgebracht."),
    Sample(CASE, "Fall Kiefer: hohes Risiko laut Gefährdungseinschätzung, Fallkonferenz nötig."),
    Sample(CASE, "Fall Pappel: Frau P. hat die Schutzanordnung zugestellt bekommen."),
    Sample(CASE, "Fall Ulme – Kind (5) zeigt in der Kita sexualisiertes Verhalten."),
    Sample(
        CASE,
        "Fall Eibe: Die Betroffene ist in eine andere Stadt gezogen, Übergabe an dortige Stelle.",
    ),
    Sample(CASE, "Fall Lärche: Täter ist bewaffnet, bitte erhöhte Wachsamkeit."),
    Sample(CASE, "Familie Linde hat einen Termin beim Jugendamt abgesagt."),
    Sample(CASE, "Frau Birke hat heute angerufen, sie kommt morgen zur Beratung."),
    Sample(CASE, "Herr Eiche (Pseudonym) ist der Polizei wegen Körperverletzung bekannt."),
    Sample(CASE, "Frau A. (27) hat eine Schutzanordnung nach GewSchG beantragt."),
    Sample(CASE, "Herr B. hat gegen die Wegweisung verstoßen, Anzeige ist erstellt."),
    Sample(CASE, "Frau K. und ihre drei Kinder sind seit gestern im Frauenhaus."),
    Sample(CASE, "Klientin M. berichtet von Drohungen per Sprachnachricht."),
    Sample(CASE, "Die Betroffene (Fall Rose) möchte keinen Kontakt zur Polizei."),
    Sample(CASE, "Fall Lilie: Mutter und Baby sind in der Klinik untergebracht."),
    Sample(CASE, "Fall Sonnenblume: Umgangsausschluss beim Familiengericht beantragt."),
    Sample(CASE, "Fall 12/2026: Nachstellung durch den Ex-Partner, erneuter Vorfall."),
    Sample(CASE, "Fall F-2026-0042: Frau S. hat die Beratung abgebrochen."),
    Sample(CASE, "Kind 1 (4 J.) und Kind 2 (7 J.) zeigen Auffälligkeiten in der Kita."),
    Sample(CASE, "Betroffene A. wünscht Begleitung zur Gerichtsverhandlung."),
    Sample(CASE, "Frau X. hat den Täter wieder in die Wohnung gelassen."),
    Sample(
        CASE,
        "Die Kindsmutter (Fall Birke) ist nicht erreichbar, bitte Rückmeldung an die Koordinierungsstelle.",  # noqa: E501
    ),
    Sample(CASE, "Herr L. (Fall Linde) hat sich bei der Täterarbeit angemeldet."),
    Sample(CASE, "Fall Ahorn, Update: Schutzanordnung wurde verlängert."),
    Sample(CASE, "Frau D. aus Fall Esche sucht eine neue Wohnung."),
    Sample(CASE, "Case Willow: Ms A. (31) was threatened again by her ex-partner."),
    Sample(CASE, "Case Oak: the father did not return the children after contact."),
    Sample(CASE, "Mr B. breached the barring order again, police informed."),
    Sample(
        CASE, "Fall Kastanie: Weil die Tochter Angst vor dem Vater hat, ist der Umgang ausgesetzt."
    ),
    # --- ages and family roles ------------------------------------------------------------------
    Sample(AGES, "Tochter (6) und Sohn (9) sind in Obhut."),
    Sample(AGES, "Mutter (34) mit Säugling (3 Monate) braucht sofort einen Schutzplatz."),
    Sample(AGES, "Jugendliche (15) berichtet von Gewalt durch den Stiefvater."),
    Sample(AGES, "Drei Kinder im Alter von 2, 5 und 11 Jahren sind mitbetroffen."),
    Sample(AGES, "Die Mutter (41) ist schwanger, der Partner (45) trinkt regelmäßig."),
    Sample(AGES, "Sohn, 12 Jahre, hat die Polizei gerufen."),
    Sample(AGES, "Kind (8) war Zeuge der Gewalt."),
    Sample(AGES, "Vater (38) ist polizeibekannt wegen Körperverletzung."),
    Sample(AGES, "Ältere Dame (82) wird von ihrem Sohn (55) finanziell ausgebeutet."),
    Sample(AGES, "Geschwister (7 und 9) sollen gemeinsam untergebracht werden."),
    Sample(AGES, "Die 16-jährige Tochter ist bei einer Freundin untergekommen."),
    Sample(AGES, "Ein 3-jähriges Kind wurde mit Verletzungen in die Klinik gebracht."),
    Sample(AGES, "Der Ex-Partner (29) hat ein Messer bei sich getragen."),
    Sample(AGES, "Daughter (6) and son (9) are in foster care."),
    Sample(AGES, "Teenager (15) reports violence by her stepfather."),
    Sample(AGES, "Bekannt ist, dass der Vater Drogen nimmt und die Mutter Angst vor ihm hat."),
    Sample(AGES, "Unklar ist, ob die Tochter Kontakt zum Vater möchte."),
    Sample(AGES, "Die Lehrerin berichtet, dass der Sohn Hunger hat und oft müde ist."),
    Sample(AGES, "Weil die Mutter Deutsch kaum spricht, ist eine Dolmetscherin nötig."),
    # --- institutions ---------------------------------------------------------------------------
    Sample(INSTITUTION, "Frauenhaus Rostock hat heute einen Platz frei."),
    Sample(INSTITUTION, "Clara-Zetkin-Haus meldet: keine freien Plätze bis Ende März."),
    Sample(
        INSTITUTION, "Interventionsstelle Rostock übernimmt die Beratung nach dem Polizeieinsatz."
    ),
    Sample(
        INSTITUTION,
        "Die Kinderschutzambulanz der Universitätsmedizin Greifswald hat Befunde dokumentiert.",
    ),
    Sample(INSTITUTION, "Das Jugendamt Vorpommern-Greifswald hat eine Inobhutnahme veranlasst."),
    Sample(INSTITUTION, "Der Weiße Ring begleitet die Betroffene zum Prozess."),
    Sample(
        INSTITUTION,
        "Beratungsstelle für Betroffene von häuslicher Gewalt Schwerin ist bis Freitag geschlossen.",  # noqa: E501
    ),
    Sample(INSTITUTION, "Die Käthe-Kollwitz-Schule meldet einen Verdachtsfall."),
    Sample(INSTITUTION, "Sophie-Scholl-Gymnasium: Schülerin berichtet von Gewalt zu Hause."),
    Sample(
        INSTITUTION,
        "Albert-Schweitzer-Grundschule bittet um Beratung durch eine insoweit erfahrene Fachkraft.",
    ),
    Sample(INSTITUTION, "Anne-Frank-Schule: Kind (9) kam mit Hämatomen zum Unterricht."),
    Sample(INSTITUTION, "Die Kita Sonnenschein hat den ASD informiert."),
    Sample(INSTITUTION, "Helios Kliniken Schwerin, Notaufnahme: Frau mit Würgemalen behandelt."),
    Sample(
        INSTITUTION, "Die Rechtsmedizin Rostock hat die Verletzungen gerichtsfest dokumentiert."
    ),
    Sample(INSTITUTION, "Polizeiinspektion Neubrandenburg hat eine Wegweisung ausgesprochen."),
    Sample(INSTITUTION, "Kriminalpolizeiinspektion Anklam übernimmt die Ermittlungen."),
    Sample(INSTITUTION, "Männerberatung Rostock bietet dem Täter ein Anti-Gewalt-Training an."),
    Sample(
        INSTITUTION, "Fachberatungsstelle gegen sexualisierte Gewalt Stralsund hat Kapazitäten."
    ),
    Sample(
        INSTITUTION,
        "Die Ernst-Moritz-Arndt-Universität hat für die Studentin eine Ansprechperson benannt.",
    ),
    Sample(INSTITUTION, "Frauenschutzhaus Wismar: zwei Plätze frei, Aufnahme ab sofort."),
    Sample(INSTITUTION, "Landesfrauenrat M-V lädt zur Fachtagung ein."),
    Sample(INSTITUTION, "Caritas Mecklenburg übernimmt die Schuldnerberatung."),
    Sample(INSTITUTION, "Das Diakoniewerk Neues Ufer hat einen Platz im betreuten Wohnen."),
    Sample(INSTITUTION, "Amtsgericht Rostock, Familiengericht, hat den Beschluss erlassen."),
    Sample(
        INSTITUTION,
        "Die Staatsanwaltschaft Schwerin ermittelt wegen gefährlicher Körperverletzung.",
    ),
    Sample(INSTITUTION, "Kinder- und Jugendnotdienst Rostock hat das Mädchen aufgenommen."),
    Sample(
        INSTITUTION, "Opferambulanz am Institut für Rechtsmedizin ist rund um die Uhr erreichbar."
    ),
    Sample(INSTITUTION, "The women's refuge in Rostock has one free place."),
    Sample(INSTITUTION, "The youth welfare office Schwerin has taken the child into care."),
    Sample(INSTITUTION, "Pro Familia Rostock bietet eine Beratung zur Schwangerschaft an."),
    Sample(INSTITUTION, "Die Tafel in Güstrow kann die Familie mit Lebensmitteln unterstützen."),
    # --- places and regions ---------------------------------------------------------------------
    Sample(PLACE, "Vorfall in Rostock-Lütten Klein, Polizei vor Ort."),
    Sample(PLACE, "Die Familie ist von Schwerin nach Ludwigslust-Parchim gezogen."),
    Sample(PLACE, "Einsatz in Greifswald, Betroffene wurde in die Klinik gebracht."),
    Sample(PLACE, "In Stralsund gibt es derzeit keinen freien Frauenhausplatz."),
    Sample(PLACE, "Die Frau lebt auf Rügen, ÖPNV kaum erreichbar."),
    Sample(PLACE, "Landkreis Rostock: zwei neue Fälle von Nachstellung."),
    Sample(PLACE, "Mecklenburgische Seenplatte, Raum Waren (Müritz): Verdacht auf Zwangsheirat."),
    Sample(PLACE, "Nordwestmecklenburg meldet einen Fall von Kindeswohlgefährdung."),
    Sample(PLACE, "Vorpommern-Rügen: Täter hält sich vermutlich in Bergen auf."),
    Sample(PLACE, "Der Täter wurde in der Innenstadt von Neubrandenburg gesehen."),
    Sample(PLACE, "Sie will nach Hamburg zu Verwandten, Übergabe an das dortige Frauenhaus."),
    Sample(PLACE, "Die Kinder gehen in Güstrow zur Schule."),
    Sample(PLACE, "Einsatz in der Kröpeliner Straße, Betroffene ist sicher untergebracht."),
    Sample(PLACE, "Treffpunkt Hauptbahnhof Rostock, Ausgang Süd."),
    Sample(PLACE, "In Evershagen wurde die Polizei zweimal gerufen."),
    Sample(PLACE, "Die Klientin stammt aus Syrien und lebt seit 2019 in Wismar."),
    Sample(PLACE, "Weiterleitung an die Kolleginnen in Anklam und Pasewalk."),
    Sample(PLACE, "Incident in Greifswald, the woman is now safe."),
    Sample(PLACE, "Sie ist aus der Ukraine geflüchtet und lebt jetzt in Parchim."),
    Sample(PLACE, "Der Vater fährt regelmäßig nach Polen und nimmt die Kinder mit."),
    # --- meetings and dates ---------------------------------------------------------------------
    Sample(MEETING, "Fallkonferenz am 12.03.2026 um 10 Uhr im Jugendamt Rostock."),
    Sample(
        MEETING, "Treffen des Runden Tisches am Dienstag, 14 Uhr, Rathaus Greifswald, Raum 2.12."
    ),
    Sample(MEETING, "Hilfeplangespräch am 18.03.2026, bitte Teilnahme bestätigen."),
    Sample(MEETING, "Gerichtstermin am 02.04.2026 beim Familiengericht Rostock."),
    Sample(MEETING, "Anhörung am 7. April 2026 um 9:30 Uhr."),
    Sample(MEETING, "Nächste Netzwerksitzung: Mittwoch, 25.03., 15–17 Uhr, online."),
    Sample(MEETING, "Fallbesprechung morgen um 11 Uhr in Raum 12."),
    Sample(MEETING, "Vorfall am 14.03.2026 gegen 22:30 Uhr, Polizei hat die Wohnung geräumt."),
    Sample(MEETING, "Die Schutzanordnung gilt bis zum 30.06.2026."),
    Sample(MEETING, "Seit dem 01.03.2026 lebt die Mutter mit den Kindern im Frauenhaus."),
    Sample(MEETING, "Die Hauptverhandlung ist auf den 15. Mai 2026 angesetzt."),
    Sample(MEETING, "Nachstellung seit Januar, zuletzt am Wochenende."),
    Sample(MEETING, "Anfang Mai Fallkonferenz planen, Einladung folgt."),
    Sample(MEETING, "Ende Mai läuft die Wegweisung aus."),
    Sample(MEETING, "Supervision am Freitag fällt aus."),
    Sample(MEETING, "Termin beim Jugendamt: Do, 19.03., 10:00 Uhr."),
    Sample(MEETING, "Case conference on Tuesday at 10 am at the youth welfare office."),
    Sample(MEETING, "Hearing on 7 April 2026 at the family court."),
    Sample(MEETING, "Die Frist für die Beschwerde endet am 20.04.2026."),
    Sample(
        MEETING,
        "Online-Schulung zum Gefährdungsmanagement am 28.04.2026, Anmeldung über die Koordinierungsstelle.",  # noqa: E501
    ),
    # --- legal terms ----------------------------------------------------------------------------
    Sample(
        LAW,
        "Schutzanordnung nach § 1 GewSchG ist beantragt, Wohnungszuweisung nach § 2 GewSchG folgt.",
    ),
    Sample(LAW, "Verdacht auf Nachstellung nach § 238 StGB."),
    Sample(LAW, "Das Familiengericht prüft Maßnahmen nach § 1666 BGB."),
    Sample(LAW, "Wegweisung nach § 52 SOG M-V für 14 Tage ausgesprochen."),
    Sample(LAW, "Gefährdungseinschätzung nach § 8a SGB VIII und § 4 KKG erfolgt."),
    Sample(LAW, "Inobhutnahme gemäß § 42 SGB VIII, Eltern sind informiert."),
    Sample(LAW, "Strafantrag wegen Körperverletzung (§ 223 StGB) gestellt."),
    Sample(LAW, "Die Istanbul-Konvention verpflichtet zu koordinierter Hilfe."),
    Sample(LAW, "Verstoß gegen die Anordnung nach § 4 GewSchG, Strafanzeige erstattet."),
    Sample(LAW, "Umgangsrecht nach § 1684 BGB wurde vorläufig ausgeschlossen."),
    Sample(LAW, "Vertrauliche Spurensicherung nach § 27 Abs. 1 Nr. 3 SGB V ist möglich."),
    Sample(LAW, "Hochrisikofall nach ODARA, Fallkonferenz gemäß Konzeption M-V."),
    Sample(LAW, "Art. 6 GG und Art. 3 der Istanbul-Konvention sind zu beachten."),
    Sample(LAW, "Protection order under the Violence Protection Act (GewSchG) has been issued."),
    Sample(LAW, "Aktenzeichen 3 F 123/26 beim Amtsgericht Rostock."),
    Sample(LAW, "Az. 512 Js 1234/26, Staatsanwaltschaft informiert."),
    # --- helplines ------------------------------------------------------------------------------
    Sample(HELPLINE, "Hilfetelefon Gewalt gegen Frauen 116 016 ist informiert."),
    Sample(HELPLINE, "Bitte die Betroffene auf das Hilfetelefon 08000 116 016 hinweisen."),
    Sample(HELPLINE, "Nummer gegen Kummer 116 111 für die Tochter notiert."),
    Sample(HELPLINE, "Im Notfall sofort 110 wählen, bei Verletzungen 112."),
    Sample(HELPLINE, "Hilfetelefon Sexueller Missbrauch: 0800 22 55 530."),
    Sample(HELPLINE, "Elterntelefon 0800 111 0 550 ist kostenlos und anonym."),
    Sample(HELPLINE, "Hilfetelefon Schwangere in Not 0800 40 40 020 rund um die Uhr."),
    Sample(HELPLINE, "Weißer Ring Opfertelefon 116 006 wurde angerufen."),
    Sample(HELPLINE, "Hilfetelefon Gewalt an Männern 0800 123 99 00 als Angebot weitergegeben."),
    Sample(HELPLINE, "Telefonseelsorge 0800 111 0 111 oder 0800 111 0 222."),
    Sample(HELPLINE, "She was given the helpline number 116 016."),
    Sample(HELPLINE, "Polizei 110 wurde von der Nachbarin gerufen."),
    # --- ordinary case talk ---------------------------------------------------------------------
    Sample(
        NARRATIVE,
        "Die Betroffene wurde gestern erneut vom Ex-Partner bedroht, Polizei war vor Ort.",
    ),
    Sample(NARRATIVE, "Der Gefährder ist aus der Haft entlassen, bitte erhöhte Aufmerksamkeit."),
    Sample(NARRATIVE, "Die Kinder sind in Obhut, die Mutter ist im Frauenhaus."),
    Sample(NARRATIVE, "Verdacht auf Zwangsverheiratung, Jugendliche braucht sofort Schutz."),
    Sample(NARRATIVE, "Er hat ihr das Handy abgenommen und kontrolliert ihre Nachrichten."),
    Sample(NARRATIVE, "Die Nachbarin hat Schreie gehört und die Polizei gerufen."),
    Sample(NARRATIVE, "Sie möchte keine Anzeige erstatten, aber Beratung annehmen."),
    Sample(NARRATIVE, "Täter hat Zugang zu Waffen (Jäger), hohes Risiko."),
    Sample(NARRATIVE, "Die Mutter spricht Arabisch, eine Dolmetscherin ist organisiert."),
    Sample(NARRATIVE, "Der Ex-Partner taucht immer wieder vor der Arbeitsstelle auf."),
    Sample(NARRATIVE, "Die Tochter hat in der Schule von Schlägen erzählt, ASD ist informiert."),
    Sample(NARRATIVE, "Würgen beim letzten Vorfall – bitte als Hochrisiko einstufen."),
    Sample(NARRATIVE, "Er droht, sich und den Kindern etwas anzutun."),
    Sample(NARRATIVE, "Die Betroffene hat keinen gesicherten Aufenthaltsstatus."),
    Sample(NARRATIVE, "Frau mit Behinderung wird von ihrem Betreuer unter Druck gesetzt."),
    Sample(NARRATIVE, "Die Polizei hat ein Rückkehrverbot für 10 Tage ausgesprochen."),
    Sample(NARRATIVE, "Die Kinder haben die Gewalt miterlebt und brauchen Unterstützung."),
    Sample(NARRATIVE, "Der Täter hat ein GPS-Gerät am Auto der Betroffenen angebracht."),
    Sample(NARRATIVE, "Sie hat Angst, dass er die Kinder ins Ausland bringt."),
    Sample(NARRATIVE, "Zwei Kinder, 5 und 8 Jahre, leben noch im Haushalt."),
    Sample(NARRATIVE, "Mutter und Kinder sind im Frauenhaus, der Vater kennt die Stadt nicht."),
    Sample(NARRATIVE, "Bitte prüfen, ob in Schwerin ein Platz für Frau mit 4 Kindern frei ist."),
    Sample(NARRATIVE, "Er hat mehrere Fake-Accounts erstellt und schreibt ihr täglich."),
    Sample(NARRATIVE, "Die Schule meldet, dass der Junge seit einer Woche fehlt."),
    Sample(NARRATIVE, "Der Vater ist LKW-Fahrer und oft tagelang unterwegs."),
    Sample(NARRATIVE, "Sie ist im 7. Monat schwanger und wurde in den Bauch getreten."),
    Sample(NARRATIVE, "Die Familie hat 2 Hunde, das Frauenhaus kann keine Tiere aufnehmen."),
    Sample(NARRATIVE, "She has been strangled before; high-risk case."),
    Sample(NARRATIVE, "The children witnessed the violence and need support."),
    Sample(NARRATIVE, "He keeps turning up at her workplace despite the order."),
    Sample(NARRATIVE, "Die Oma möchte die Kinder aufnehmen, Jugendamt prüft."),
    Sample(NARRATIVE, "Der Stiefvater hat Kontaktverbot, hält sich aber nicht daran."),
    Sample(NARRATIVE, "Am Montag wurde sie erneut in der Wohnung eingesperrt."),
    Sample(NARRATIVE, "Polizei und Jugendamt waren gemeinsam vor Ort, Kinder unverletzt."),
    Sample(NARRATIVE, "Er hat 3.000 Euro Schulden bei ihr gemacht und droht nun."),
    Sample(NARRATIVE, "Tat im 3. OG, Nachbarn haben nichts gehört."),
]
