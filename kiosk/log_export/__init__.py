"""`fse-export`: the booth's capture log out of the booth, as bundles (contract/bundle.py).

    cli.py     the command line (`fse-export`, the USB unit's ExecStart)
    bundle.py  writing a bundle: the database snapshot, the images, the manifest; marking captures exported
    usb.py     an export onto a stick (mounted by kiosk/usb_stick.py, shared with fse-update), as the kiosk's user; the status file
    files.py   opening files below a root without following links; syncfs

Nothing is imported here: the kiosk imports none of it (its toast reads kiosk/usb_status.py).
"""
