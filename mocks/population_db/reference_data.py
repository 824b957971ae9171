"""Reference tables for the synthetic population: provinces, names, ethnicities, religions.

Province codes are those of Circular 59/2021/TT-BCA (the 63 provinces); populations (thousands,
2019 census, rounded) weight where people are registered. Name frequencies follow published surveys.
"""

from __future__ import annotations

# (code, name, population in thousands)
PROVINCES: tuple[tuple[str, str, int], ...] = (
    ("001", "Hà Nội", 8050), ("002", "Hà Giang", 850), ("004", "Cao Bằng", 530),
    ("006", "Bắc Kạn", 310), ("008", "Tuyên Quang", 780), ("010", "Lào Cai", 730),
    ("011", "Điện Biên", 600), ("012", "Lai Châu", 460), ("014", "Sơn La", 1250),
    ("015", "Yên Bái", 820), ("017", "Hòa Bình", 850), ("019", "Thái Nguyên", 1290),
    ("020", "Lạng Sơn", 780), ("022", "Quảng Ninh", 1320), ("024", "Bắc Giang", 1800),
    ("025", "Phú Thọ", 1460), ("026", "Vĩnh Phúc", 1150), ("027", "Bắc Ninh", 1370),
    ("030", "Hải Dương", 1890), ("031", "Hải Phòng", 2030), ("033", "Hưng Yên", 1250),
    ("034", "Thái Bình", 1860), ("035", "Hà Nam", 850), ("036", "Nam Định", 1780),
    ("037", "Ninh Bình", 980), ("038", "Thanh Hóa", 3640), ("040", "Nghệ An", 3330),
    ("042", "Hà Tĩnh", 1290), ("044", "Quảng Bình", 900), ("045", "Quảng Trị", 630),
    ("046", "Thừa Thiên Huế", 1130), ("048", "Đà Nẵng", 1130), ("049", "Quảng Nam", 1500),
    ("051", "Quảng Ngãi", 1230), ("052", "Bình Định", 1490), ("054", "Phú Yên", 960),
    ("056", "Khánh Hòa", 1230), ("058", "Ninh Thuận", 590), ("060", "Bình Thuận", 1230),
    ("062", "Kon Tum", 540), ("064", "Gia Lai", 1510), ("066", "Đắk Lắk", 1870),
    ("067", "Đắk Nông", 620), ("068", "Lâm Đồng", 1300), ("070", "Bình Phước", 990),
    ("072", "Tây Ninh", 1170), ("074", "Bình Dương", 2430), ("075", "Đồng Nai", 3100),
    ("077", "Bà Rịa - Vũng Tàu", 1150), ("079", "Hồ Chí Minh", 8990), ("080", "Long An", 1690),
    ("082", "Tiền Giang", 1760), ("083", "Bến Tre", 1290), ("084", "Trà Vinh", 1010),
    ("086", "Vĩnh Long", 1020), ("087", "Đồng Tháp", 1600), ("089", "An Giang", 1910),
    ("091", "Kiên Giang", 1720), ("092", "Cần Thơ", 1240), ("093", "Hậu Giang", 730),
    ("094", "Sóc Trăng", 1200), ("095", "Bạc Liêu", 910), ("096", "Cà Mau", 1190),
)
PROVINCE_NAME = {code: name for code, name, _ in PROVINCES}
PROVINCE_CODES = frozenset(PROVINCE_NAME)
# Provinces that are centrally-run cities ("Thành phố") rather than "Tỉnh".
CITIES = frozenset({"001", "031", "048", "079", "092"})

# (family name, weight in per-mille); Hoàng/Huỳnh and Vũ/Võ are north/south variants.
FAMILY_NAMES: tuple[tuple[str, int], ...] = (
    ("Nguyễn", 380), ("Trần", 110), ("Lê", 95), ("Phạm", 71), ("Hoàng", 31), ("Huỳnh", 20),
    ("Phan", 45), ("Vũ", 22), ("Võ", 17), ("Đặng", 21), ("Bùi", 20), ("Đỗ", 14), ("Hồ", 13),
    ("Ngô", 13), ("Dương", 10), ("Lý", 5), ("Đào", 8), ("Đinh", 8), ("Trương", 8), ("Lâm", 5),
    ("Mai", 5), ("Trịnh", 5), ("Lương", 4), ("Tạ", 3), ("Hà", 6), ("Cao", 4), ("Tô", 3),
)
MIDDLE_MALE = ("Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Xuân", "Gia")
MIDDLE_FEMALE = ("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Hồng", "Bảo", "Phương")
GIVEN_MALE = ("An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu",
              "Hoàng", "Hùng", "Huy", "Khang", "Khánh", "Kiên", "Lâm", "Long", "Lộc", "Mạnh",
              "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng",
              "Thành", "Thịnh", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ")
GIVEN_FEMALE = ("An", "Anh", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa",
                "Hồng", "Hương", "Huyền", "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân",
                "Ngọc", "Nhung", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thu",
                "Thúy", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến")

# (ethnicity, weight in per-ten-thousand), 2019 census shares.
ETHNICITIES: tuple[tuple[str, int], ...] = (
    ("Kinh", 8532), ("Tày", 192), ("Thái", 189), ("Mường", 153), ("Hmông", 145),
    ("Khmer", 137), ("Nùng", 110), ("Dao", 93), ("Hoa", 78), ("Gia Rai", 54), ("Ê Đê", 41),
    ("Ba Na", 30), ("Sán Chay", 21), ("Chăm", 18), ("Cơ Ho", 21), ("Xơ Đăng", 22),
    ("Sán Dìu", 19), ("Hrê", 15), ("Ra Glai", 15), ("Mnông", 13), ("Thổ", 10),
)
RELIGIONS: tuple[tuple[str, int], ...] = (
    ("Không", 8610), ("Công giáo", 610), ("Phật giáo", 480), ("Tin lành", 100),
    ("Phật giáo Hòa Hảo", 100), ("Cao Đài", 60), ("Hồi giáo", 40),
)
BLOOD_TYPES: tuple[tuple[str, int], ...] = (("O", 42), ("B", 31), ("A", 21), ("AB", 6))
STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt",
           "Quang Trung", "Hùng Vương", "Nguyễn Trãi", "Lê Duẩn", "Điện Biên Phủ",
           "Phan Đình Phùng", "Nguyễn Du", "Bà Triệu", "Hoàng Diệu", "Ngô Quyền")


def cumulative(table: tuple[tuple[str, int], ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Names and cumulative weights, for O(log n) weighted picks with bisect."""
    names, cums, total = [], [], 0
    for name, weight in table:
        total += weight
        names.append(name)
        cums.append(total)
    return tuple(names), tuple(cums)
