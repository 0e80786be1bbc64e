"""Reference lists the synthetic city is drawn from: names, regions, phones, places, vaccines.

Frequencies are rounded from public statistics (surname rankings for Guangdong, the 7th census
ethnic mix of Zhongshan) — close enough that name collisions and rare-name tails look real, which
is what person resolution is measured on.
"""

from __future__ import annotations

from dataclasses import dataclass

CITY_NAME = "中山市"
CITY_CODE = "442000"
CITY_CENTER = (113.39, 22.52)  # lon, lat of Zhongshan's centre (石岐)

# Surname -> weight (per mille, Guangdong-flavoured: 陈/李/黄/梁 lead, compound surnames rare).
SURNAMES: dict[str, float] = {
    "陈": 90, "李": 65, "黄": 60, "张": 45, "梁": 40, "林": 38, "刘": 35, "吴": 28, "罗": 25, "何": 24,
    "郑": 22, "杨": 20, "谢": 18, "周": 16, "王": 15, "邓": 15, "冯": 15, "叶": 14, "曾": 14, "苏": 13,
    "卢": 13, "钟": 12, "朱": 11, "蔡": 10, "潘": 10, "余": 9, "许": 9, "赖": 8, "彭": 8, "胡": 8,
    "郭": 8, "邱": 7, "廖": 7, "方": 6, "莫": 6, "徐": 6, "孙": 5, "赵": 5, "马": 5, "唐": 4,
    "严": 4, "高": 4, "肖": 4, "温": 4, "江": 4, "袁": 4, "萧": 3, "甘": 3, "关": 3, "古": 3,
    "范": 3, "汤": 3, "麦": 3, "伍": 3, "韦": 3, "邹": 3, "姚": 3, "覃": 2, "庞": 2, "孔": 2,
    "田": 2, "宋": 2, "蒋": 2, "沈": 2, "龙": 2, "易": 2, "阮": 2, "容": 1, "简": 1, "岑": 1,
    "欧阳": 1, "司徒": 0.5, "上官": 0.2, "植": 0.5, "缪": 0.5, "雷": 1.5, "谭": 3, "区": 1,
}

# Given-name characters by sex and birth era: names follow fashion, so a 1950s 秀英 and a 2015 梓涵
# share a household, as they do in real registers.
GIVEN_CHARS: dict[tuple[str, str], str] = {
    ("男", "old"): "国建华伟军明强志文平荣福贵庆发德成金海权辉锦耀添炳汉坤胜洪棠根泉光新东生昌春林",
    ("女", "old"): "秀英桂兰芳凤珍玉丽梅娟莲群珠好妹琼霞红燕彩金巧惠玲爱银月清",
    ("男", "mid"): "伟俊杰浩斌涛强鹏辉勇波明磊军峰志健文超家嘉锦伦达荣展宇永豪健卓",
    ("女", "mid"): "丽婷敏静燕艳娟芳玲霞颖洁慧琳雪倩欣嘉咏诗晓美雯思敏婉",
    ("男", "young"): "子轩浩宇梓睿俊博文泽铭一辰皓煜嘉航乐晨奕宸锦瀚朗峻熙",
    ("女", "young"): "子涵梓欣怡诺雨萱可馨思语佳琪悦彤晴钰芊诗若安心妍",
}

# Ethnicity -> weight (per 10,000; Zhongshan is ~97% Han, migrants add Zhuang, Tujia, Yao, Miao).
ETHNICITIES: dict[str, float] = {
    "汉族": 9740, "壮族": 80, "土家族": 40, "瑶族": 30, "苗族": 30, "侗族": 20, "回族": 12, "满族": 10,
    "彝族": 10, "布依族": 8, "维吾尔族": 4, "蒙古族": 4, "藏族": 2,
}
# Ethnicities whose names are transliterated with a middle dot between given name and father's name.
DOTTED_ETHNICITIES = ("维吾尔族",)
UYGHUR_GIVEN = ["艾力", "买买提", "阿不都", "热依拉", "古丽", "迪丽拜尔", "努尔", "阿依古丽", "吐尔逊", "艾合买提",
                "帕提古丽", "阿力木", "玉苏甫", "米娜瓦尔", "依明", "祖丽菲亚"]
TIBETAN_GIVEN = ["扎西", "卓玛", "次仁", "格桑", "尼玛", "达瓦", "央金", "拉姆", "旦增", "多吉"]

# Foreigners on passports: Latin names as printed in the passport (surname first), or transliterated.
FOREIGN_SURNAMES = ["SMITH", "NGUYEN", "KIM", "TANAKA", "SILVA", "MULLER", "JOHNSON", "PATEL", "TRAN", "LEE",
                    "GARCIA", "ROSSI", "SATO", "PARK", "WILSON"]
FOREIGN_GIVEN = {"男": ["JOHN", "MINH", "JUNHO", "KENJI", "PEDRO", "LUKAS", "DAVID", "RAHUL", "TUAN", "JAMES"],
                 "女": ["MARY", "LAN", "JIYEON", "YUKI", "ANA", "SOPHIE", "EMMA", "PRIYA", "HOA", "LINDA"]}
TRANSLITERATED_FOREIGN = ["约翰·史密斯", "玛丽·约翰逊", "大卫·威尔逊", "安娜·席尔瓦", "卢卡斯·穆勒", "艾玛·加西亚"]

# A compact simplified -> traditional map covering the surname and given-name pools above: HK/Macau
# and older registers write 陳 for 陈, and the standardizer must fold them back.
TRADITIONAL: dict[str, str] = dict(zip(
    "陈黄刘张杨吴郑罗冯邓叶苏卢钟谢赵孙许龙华国伟军丽红兰凤辉东云宁涛颖洁强刚荣贵庆发宝连锦铭伦乐达义爱静艳鸿鹏杰轩诺泽钰"
    "梁马汤严萧邹姚蒋沈区广汉胜坤权耀炳雯婵晓诗咏婉俊浩宇睿煜航晨瀚皓熙妍语萱悦彤晴琪馨欣怡涵梓伦卓豪展峰磊健超勇波斌志嘉门",
    "陳黃劉張楊吳鄭羅馮鄧葉蘇盧鍾謝趙孫許龍華國偉軍麗紅蘭鳳輝東雲寧濤穎潔強剛榮貴慶發寶連錦銘倫樂達義愛靜艷鴻鵬傑軒諾澤鈺"
    "梁馬湯嚴蕭鄒姚蔣沈區廣漢勝坤權耀炳雯嬋曉詩詠婉俊浩宇睿煜航晨瀚皓熙妍語萱悅彤晴琪馨欣怡涵梓倫卓豪展峰磊健超勇波斌志嘉門",
    strict=True,
))
TRADITIONAL = {s: t for s, t in TRADITIONAL.items() if s != t}


@dataclass(frozen=True)
class Region:
    code: str      # GB/T 2260 county code, the first six digits of an ID number
    name: str      # province + city + county, as a 户籍地址 starts
    group: str     # "local" (Zhongshan), "guangdong" (rest of the province), "other" (other provinces)
    weight: float


# Real county codes. Zhongshan has had three: 中山县 until 1983, 440620 under Foshan 1983-88, then
# 442000; IDs are drawn from the code valid in the birth year so python-stdnum accepts them.
REGIONS: list[Region] = [
    Region("442000", "广东省中山市", "local", 80), Region("440620", "广东省中山市", "local", 10),
    Region("442724", "广东省中山县", "local", 10),
    Region("440103", "广东省广州市荔湾区", "guangdong", 3), Region("440106", "广东省广州市天河区", "guangdong", 3),
    Region("440111", "广东省广州市白云区", "guangdong", 2), Region("440303", "广东省深圳市罗湖区", "guangdong", 2),
    Region("440304", "广东省深圳市福田区", "guangdong", 2), Region("440802", "广东省湛江市赤坎区", "guangdong", 4),
    Region("440902", "广东省茂名市茂南区", "guangdong", 4), Region("440604", "广东省佛山市禅城区", "guangdong", 2),
    Region("440703", "广东省江门市蓬江区", "guangdong", 3), Region("441802", "广东省清远市清城区", "guangdong", 2),
    Region("430102", "湖南省长沙市芙蓉区", "other", 3), Region("430111", "湖南省长沙市雨花区", "other", 2),
    Region("433101", "湖南省吉首市", "other", 2), Region("430421", "湖南省衡阳县", "other", 3),
    Region("450102", "广西壮族自治区南宁市兴宁区", "other", 3), Region("450103", "广西壮族自治区南宁市青秀区", "other", 2),
    Region("452501", "广西壮族自治区玉林市", "other", 3), Region("452601", "广西壮族自治区百色市", "other", 2),
    Region("410102", "河南省郑州市中原区", "other", 2), Region("410105", "河南省郑州市金水区", "other", 2),
    Region("412701", "河南省周口市", "other", 3), Region("360102", "江西省南昌市东湖区", "other", 2),
    Region("360502", "江西省新余市渝水区", "other", 1), Region("362101", "江西省赣州市", "other", 3),
    Region("362201", "江西省宜春市", "other", 2), Region("420102", "湖北省武汉市江岸区", "other", 2),
    Region("420106", "湖北省武汉市武昌区", "other", 2), Region("350102", "福建省福州市鼓楼区", "other", 1),
    Region("130102", "河北省石家庄市长安区", "other", 1), Region("220102", "吉林省长春市南关区", "other", 1),
    Region("510104", "四川省成都市锦江区", "other", 3), Region("510107", "四川省成都市武侯区", "other", 2),
    Region("500103", "重庆市渝中区", "other", 2), Region("520102", "贵州省贵阳市南明区", "other", 2),
]

# Hong Kong / Macau residence permits carry 810000 / 820000 in the region digits.
HK_MACAU_CODES = ("810000", "820000")

# Mobile prefixes by carrier (China Mobile ~60% of subscribers).
MOBILE_PREFIXES: dict[str, float] = {
    **{p: 6.0 for p in ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
                        "182", "183", "184", "187", "188", "178", "147", "198")},
    **{p: 4.0 for p in ("130", "131", "132", "155", "156", "185", "186", "176", "166")},
    **{p: 4.0 for p in ("133", "153", "180", "181", "189", "177", "173", "199")},
}
LANDLINE_AREA = "0760"
LANDLINE_PREFIXES = ("88", "87", "86", "85", "89", "23", "22")

SUBDISTRICTS = ["石岐街道", "东区街道", "西区街道", "南区街道", "五桂山街道", "中山港街道", "小榄镇", "古镇镇",
                "横栏镇", "坦洲镇", "三乡镇", "沙溪镇", "大涌镇", "南头镇", "东凤镇", "黄圃镇", "三角镇", "民众街道",
                "港口镇", "板芙镇", "神湾镇", "阜沙镇", "南朗街道"]
COMMUNITY_NAMES = ["太平", "仁厚", "民权", "凤鸣", "龙凤", "竹苑", "松苑", "柏苑", "桃苑", "银湖", "库充", "亨尾", "长洲",
                   "沙朗", "烟洲", "隆平", "后山", "城南", "马岭", "竹秀园", "岐关", "齐东", "员峰", "兴中", "悦来",
                   "莲塘", "康华", "富华", "湖滨", "翠景", "金鹰", "博爱", "逸仙", "紫马", "光明", "安山", "白石", "大岭",
                   "起湾", "槎桥", "西江里", "濠头", "张家边", "江尾头", "大涌", "南外", "环城", "渡头", "长命水", "福获"]
ROADS = ["中山路", "孙文中路", "兴中道", "博爱路", "中山四路", "起湾道", "岐关西路", "康华路", "湖滨路", "悦来南路",
         "莲员路", "富华道", "长江路", "城桂路", "民族路", "南外环路", "华柏路", "翠景道", "东明路", "岐江路",
         "青溪路", "莲塘路", "凤鸣路", "龙华路", "白石路", "银通街", "员峰路", "隆平路"]

HOUSEHOLD_RELATIONS_CHILD = {"男": "子", "女": "女"}
HOUSEHOLD_RELATIONS_PARENT = {"男": "父亲", "女": "母亲"}
HOUSEHOLD_RELATIONS_GRANDCHILD = {"男": "孙子", "女": "孙女"}

# Vaccine catalogue (SOURCES.md section 2) and the spellings sites enter for each.
VACCINE_NAMES: dict[str, list[str]] = {
    "COVID-INACT": ["新冠病毒灭活疫苗", "新型冠状病毒灭活疫苗(Vero细胞)", "新冠灭活疫苗", "新冠疫苗（灭活）"],
    "FLU": ["流感疫苗", "流感病毒裂解疫苗", "四价流感病毒裂解疫苗", "流感(裂解)疫苗"],
    "PPSV23": ["23价肺炎球菌多糖疫苗", "23价肺炎疫苗", "肺炎球菌多糖疫苗(23价)"],
    "HEPB": ["乙肝疫苗", "乙型肝炎疫苗", "重组乙型肝炎疫苗(酿酒酵母)", "乙肝疫苗(10μg)"],
    "MMR": ["麻腮风疫苗", "麻腮风联合减毒活疫苗", "麻疹腮腺炎风疹联合疫苗"],
    "HPV": ["HPV疫苗", "人乳头瘤病毒疫苗", "双价HPV疫苗", "9价HPV疫苗", "4价HPV疫苗"],
}
VACCINE_MANUFACTURERS: dict[str, list[str]] = {
    "COVID-INACT": ["北京科兴中维生物技术有限公司", "北京生物制品研究所有限责任公司", "武汉生物制品研究所有限责任公司"],
    "FLU": ["华兰生物疫苗股份有限公司", "长春生物制品研究所有限责任公司", "赛诺菲巴斯德"],
    "PPSV23": ["成都生物制品研究所有限责任公司", "默沙东", "云南沃森生物技术股份有限公司"],
    "HEPB": ["深圳康泰生物制品股份有限公司", "大连汉信生物制药有限公司", "华北制药金坦生物技术股份有限公司"],
    "MMR": ["北京生物制品研究所有限责任公司", "上海生物制品研究所有限责任公司"],
    "HPV": ["厦门万泰沧海生物技术有限公司", "默沙东", "葛兰素史克"],
}
VACCINE_CODES = list(VACCINE_NAMES)

FACILITY_CATEGORIES = ["养老服务", "儿童关爱", "医疗卫生", "文化体育", "党群服务", "便民服务"]
FACILITY_NAME_SUFFIX: dict[str, list[str]] = {
    "养老服务": ["长者饭堂", "日间照料中心", "居家养老服务站", "颐康中心"],
    "儿童关爱": ["儿童之家", "四点半课堂", "儿童友好空间"],
    "医疗卫生": ["社区卫生服务站", "社区卫生服务中心", "家庭医生工作站"],
    "文化体育": ["综合文化服务中心", "文体活动室", "全民健身广场"],
    "党群服务": ["党群服务中心"],
    "便民服务": ["便民服务站", "政务服务点", "快递驿站"],
}
RECIPIENT_CATEGORIES = ["特困人员", "低保", "残疾人", "高龄独居", "困境儿童"]
