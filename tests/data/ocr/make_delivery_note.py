"""Make tests/data/ocr/delivery-note.png: a typed delivery note, grey, turned 0.6 degrees as if scanned askew."""

from PIL import Image, ImageDraw, ImageFont

W, H = 1240, 1754  # A4 at 150 dpi
img = Image.new("L", (W, H), 255)
d = ImageDraw.Draw(img)
big = ImageFont.load_default(size=44)
font = ImageFont.load_default(size=26)
d.text((110, 120), "Northfield Plumbing Supplies Ltd", font=big, fill=20)
d.text((110, 180), "Unit 4, Canal Street, Leeds LS2 7AB", font=font, fill=40)
d.text((110, 290), "DELIVERY NOTE  DN-20931", font=big, fill=20)
y = 380
for line in [
    "Delivered to: Harbour View Hotel, 12 Marine Parade, Whitby",
    "Delivery date: 14 March 2026",
    "Order reference: PO-7741",
    "",
    "Item                                   Quantity",
    "Copper pipe 15 mm, 3 m lengths               40",
    "Compression elbows 15 mm                    120",
    "Thermostatic radiator valves                 18",
    "",
    "The thermostatic radiator valves are on back order. The remaining",
    "valves will be delivered on 28 March 2026 at no extra charge.",
    "",
    "Received in good condition by: J. Pearson (site manager)",
]:
    d.text((110, y), line, font=font, fill=30)
    y += 44
img = img.rotate(0.6, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
img.save("tests/data/ocr/delivery-note.png", optimize=True)
