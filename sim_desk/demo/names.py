"""Names for synthetic people, from many cultures and in their own scripts.

Each culture: (first language, plausible ethnic categories, given names with gender codes,
family names). Given and family are kept in the order the person would write them in English
forms; ``family_first`` cultures are displayed family-first where the GUI supports it later.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Culture:
    key: str
    language: str
    ethnic_categories: tuple[str, ...]
    given: tuple[tuple[str, str], ...]  # (name, gender identity code)
    family: tuple[str, ...]


CULTURES: tuple[Culture, ...] = (
    Culture(
        "polish",
        "Polish",
        ("C",),
        (("Zofia", "2"), ("Łukasz", "1"), ("Małgorzata", "2"), ("Paweł", "1")),
        ("Wójcik", "Kowalczyk", "Szczepańska", "Zieliński"),
    ),
    Culture(
        "arabic",
        "Arabic",
        ("S",),
        (("محمد", "1"), ("فاطمة", "2"), ("يوسف", "1"), ("ليلى", "2")),
        ("الحسن", "عبد الله", "الخطيب", "منصور"),
    ),
    Culture(
        "chinese",
        "Mandarin",
        ("R",),
        (("芳", "2"), ("伟", "1"), ("静", "2"), ("强", "1")),
        ("王", "陈", "李", "张"),
    ),
    Culture(
        "hindi",
        "Hindi",
        ("H",),
        (("प्रिया", "2"), ("राहुल", "1"), ("अनीता", "2"), ("विकास", "1")),
        ("शर्मा", "वर्मा", "पटेल", "गुप्ता"),
    ),
    Culture(
        "greek",
        "Greek",
        ("C",),
        (("Ελένη", "2"), ("Νίκος", "1"), ("Μαρία", "2"), ("Γιώργος", "1")),
        ("Παπαδοπούλου", "Γεωργίου", "Οικονόμου", "Δημητρίου"),
    ),
    Culture(
        "irish",
        "English",
        ("B",),
        (("Siobhán", "2"), ("Liam", "1"), ("Aoife", "2"), ("Ciarán", "1")),
        ("Ó Súilleabháin", "Byrne", "Ní Bhriain", "Walsh"),
    ),
    Culture(
        "yoruba",
        "English",
        ("N",),
        (("Oluwaseun", "1"), ("Adébíyìí", "2"), ("Tèmítọ́pẹ́", "3"), ("Babatunde", "1")),
        ("Adébáyọ̀", "Okonkwo", "Ògúnlànà", "Mensah"),
    ),
    Culture(
        "somali",
        "Somali",
        ("N",),
        (("Hodan", "2"), ("Abdirahman", "1"), ("Ubah", "2"), ("Mahad", "1")),
        ("Warsame", "Farah", "Jama", "Abdi"),
    ),
    Culture(
        "vietnamese",
        "Vietnamese",
        ("L",),
        (("Thị Lan", "2"), ("Văn Minh", "1"), ("Ngọc Ánh", "2")),
        ("Nguyễn", "Trần", "Phạm"),
    ),
    Culture(
        "turkish",
        "Turkish",
        ("C",),
        (("Mehmet", "1"), ("Ayşe", "2"), ("Emre", "1")),
        ("Çelik", "Yılmaz", "Öztürk"),
    ),
    Culture(
        "bengali",
        "Bengali",
        ("K",),
        (("সুমাইয়া", "2"), ("রফিক", "1"), ("Aisha", "2")),
        ("রহমান", "Begum", "Uddin"),
    ),
    Culture(
        "urdu",
        "Urdu",
        ("J",),
        (("طارق", "1"), ("عائشہ", "2"), ("Imran", "1")),
        ("محمود", "Khan", "Hussain"),
    ),
    Culture(
        "caribbean",
        "English",
        ("M", "D"),
        (("Delroy", "1"), ("Marcia", "2"), ("Jade", "3"), ("Tyrone", "1")),
        ("Campbell", "Thompson", "Williams", "Robinson"),
    ),
    Culture(
        "welsh",
        "Welsh",
        ("A",),
        (("Rhys", "1"), ("Gwenllian", "2"), ("Dafydd", "1")),
        ("Llewelyn", "Pritchard", "ap Siôn"),
    ),
    Culture(
        "english",
        "English",
        ("A", "Z", "99"),
        (("Sarah", "2"), ("James", "1"), ("Alex", "3"), ("Emma", "2"), ("Kieran", "1")),
        ("O'Connor", "McAllister", "Clarke", "Morgan", "Smith-Jones"),
    ),
    Culture(
        "russian", "Russian", ("C",), (("Дмитрий", "1"), ("Ольга", "2")), ("Иванов", "Смирнова")
    ),
    Culture(
        "romanian",
        "Romanian",
        ("C",),
        (("Ana-Maria", "2"), ("Ștefan", "1")),
        ("Popescu", "Ionescu"),
    ),
    Culture(
        "portuguese",
        "Portuguese",
        ("C",),
        (("João", "1"), ("Conceição", "2")),
        ("Ferreira", "Gonçalves"),
    ),
    Culture(
        "tamil", "Tamil", ("L",), (("தமிழ்செல்வி", "2"), ("கார்த்திக்", "1")), ("முருகன்", "சுப்பிரமணியம்")
    ),
    Culture(
        "hebrew",
        "Hebrew",
        ("C", "S"),
        (("נועה", "2"), ("דוד", "1"), ("מיכל", "2"), ("יונתן", "1")),
        ("כהן", "לוי", "מזרחי"),
    ),
    Culture("punjabi", "Punjabi", ("H",), (("ਹਰਪ੍ਰੀਤ", "2"), ("ਗੁਰਪ੍ਰੀਤ", "1")), ("ਕੌਰ", "ਸਿੰਘ")),
    Culture(
        "zimbabwean", "Shona", ("N",), (("Precious", "2"), ("Tendai", "1")), ("Moyo", "Chikore")
    ),
)

PRONOUNS = {"1": "he/him", "2": "she/her", "3": "they/them", "4": "they/them"}

BOROUGHS = (
    ("Lambeth", ("Brixton", "Stockwell", "Vauxhall")),
    ("Southwark", ("Peckham", "Camberwell", "Bermondsey")),
    ("Lewisham", ("Deptford", "Catford", "Sydenham")),
    ("Croydon", ("Thornton Heath", "Norbury", "South Norwood")),
)
