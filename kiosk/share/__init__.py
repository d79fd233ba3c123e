"""Take your design home: the capture's QR code on the booth's screen, the design on the visitor's phone.

    publish.py   the kiosk's side: after a capture is saved, its PNG and record into the share spool
                 (contract/share_spool.py) and the link the QR code carries
    qr.py        what the QR codes say (the link; the hotspot as a `WIFI:` code) and their modules (segno)
    server.py    `fse-share`: its own process and user, serving the spool to phones by token (aiohttp)
    page.py      the phone's page for one capture
    limits.py    per-client rate limits for the server
    hotspot.py   the booth's Wi-Fi: the NetworkManager connection and its DNS, generated and checked offline
    printer.py   the optional receipt printer (ESC/POS)

The server imports none of the kiosk's screen, models or capture log: only the spool's contract,
the kiosk's config and this package's server-side modules.
"""
