"""The German creditor e-mails of the demo (`dashboard/demo.py`): one in every interesting status.

Each is (slug, sender, subject, body, status, intent, intent confidence, facts of its body extraction or
None, error, review reason). They all arrive on the demo's last day; none has attachments, so only the
classification and body-extraction prompts are ever used on them.
"""

EMAILS = [
    ("forderung-inkasso-nord", "forderungen@inkasso-nord.example", "Ihr Schreiben vom 03.11.2026 – Az. IN-2024-55871",
     "Sehr geehrte Damen und Herren,\nzu Ihrem Vergleichsangebot teilen wir mit, dass die Gesamtforderung "
     "2.487,33 € beträgt (Hauptforderung 1.950,00 €, Zinsen 312,33 €, Kosten 225,00 €), Stand 31.10.2026.\n"
     "Dem Zahlungsplan stimmen wir zu.\nMit freundlichen Grüßen\nInkasso Nord GmbH",
     "extracted", "debt_statement", 0.96,
     dict(creditor_name="Inkasso Nord GmbH", creditor_reference="IN-2024-55871", debtor_name="Jana Becker",
          total_claim="2487.33", principal="1950.00", interest="312.33", costs="225.00",
          statement_date="2026-10-31", accepts_plan=True, confidence=0.95), "", ""),
    ("ablehnung-stadtwerke", "mahnwesen@stadtwerke-musterstadt.example",
     "Ablehnung Vergleichsvorschlag Kd.-Nr. 4471123",
     "Guten Tag,\nden vorgeschlagenen Vergleich lehnen wir ab. Die offene Forderung von 836,10 EUR ist in voller "
     "Höhe zu begleichen.\nStadtwerke Musterstadt",
     "extracted", "rejection", 0.93,
     dict(creditor_name="Stadtwerke Musterstadt", creditor_reference="4471123", debtor_name="Tobias Wagner",
          total_claim="836.10", accepts_plan=False, confidence=0.91), "", ""),
    ("ratenplan-telekom", "forderungsmanagement@telefon-ag.example", "Ratenzahlung Vertragskonto 99120034",
     "Sehr geehrte Frau Schulz,\nwir bieten eine Ratenzahlung von monatlich 50,00 € bis zur Tilgung der Forderung "
     "von 1.204,90 € an.\nIhre Telefon AG",
     "extracted", "payment_plan", 0.9,
     dict(creditor_name="Telefon AG", creditor_reference="99120034", debtor_name="Sabine Schulz",
          total_claim="1204.90", accepts_plan=True, confidence=0.88), "", ""),
    ("versandhaus-saldo", "inkasso@versandhaus.example", "Kontoauszug zu Kundennummer 7781-22",
     "Anbei der aktuelle Saldo: EUR 3.918,47, davon Zinsen 402,11. Stand: 15.11.2026.",
     "extracted", "debt_statement", 0.94,
     dict(creditor_name="Versandhaus Muster KG", creditor_reference="7781-22", debtor_name="Murat Yılmaz",
          total_claim="3918.47", interest="402.11", statement_date="2026-11-15", confidence=0.9), "", ""),
    ("bank-vergleich", "recovery@beispielbank.example", "Vergleichsangebot – Darlehen 55 0021 889",
     "Wir stimmen dem Vergleich über 60 % der Forderung (Gesamtforderung 12.450,00 €) zu, sofern die Zahlung bis "
     "31.12.2026 erfolgt.\nBeispielbank AG, Abteilung Forderungsmanagement",
     "extracted", "payment_plan", 0.92,
     dict(creditor_name="Beispielbank AG", creditor_reference="55 0021 889", debtor_name="Klaus Richter",
          total_claim="12450.00", accepts_plan=True, confidence=0.9), "", ""),
    ("unklarer-betrag", "buchhaltung@handwerk-meier.example", "AW: Schuldnerberatung Herr Hoffmann",
     "Hallo,\nder Betrag ist ca. 1.1oo,- plus Mahngebühren, genaue Aufstellung folgt.\nGruß Meier",
     "manual_review", "debt_statement", 0.58,
     dict(creditor_name="Handwerk Meier", debtor_name="Stefan Hoffmann", confidence=0.52,
          unparsed={"total_claim": "ca. 1.1oo,- plus Mahngebühren"}), "",
     # The worker writes its reasons in the product's language, German in the practice.
     "Anliegen-Konfidenz 0,58 liegt unter 0,7\n"
     "Text der E-Mail: Gesamtforderung nicht lesbar (kein Betrag: 'ca. 1.1oo,- plus Mahngebühren')\n"
     "Text der E-Mail: Konfidenz 0,52 liegt unter 0,7"),
    ("rueckfrage-vollmacht", "service@energie-sued.example", "Rückfrage Vollmacht – Zählernummer 0815-4711",
     "Bitte senden Sie uns eine Vollmacht Ihres Mandanten, bevor wir Auskunft erteilen.",
     "manual_review", "inquiry", 0.64, None, "",
     "Anliegen-Konfidenz 0,64 liegt unter 0,7\nder Gläubiger stellt eine Frage, die eine Antwort von Hand braucht"),
    ("abwesenheit", "m.kraus@kanzlei-kraus.example", "Abwesenheitsnotiz: Ihr Vergleichsangebot",
     "Ich bin bis zum 30.11.2026 nicht im Büro. In dringenden Fällen wenden Sie sich an das Sekretariat.",
     "classified", "auto_reply", 0.99, None, "", ""),
    ("zeitueberschreitung", "forderungen@moebelhaus.example", "Forderungsaufstellung Auftrag 2023-1187",
     "Sehr geehrte Damen und Herren,\nanbei die Forderungsaufstellung als PDF.",
     "failed", "", None, None, "classify: APITimeoutError: Request timed out after 3 attempts", ""),
    ("neu-eingegangen", "post@versicherung-west.example", "Ihr Zeichen SB-2026-0415",
     "Wir bestätigen den Eingang Ihres Schreibens und melden uns in Kürze.",
     "queued", "", None, None, "", ""),
]


