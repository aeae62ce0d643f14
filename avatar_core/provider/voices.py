"""Kling text-to-speech voices as (id, language) pairs, and the limits of a request.

A voice id names a voice, not a language: many ids speak both Chinese and English, and the
provider refuses an id in a language it does not speak ("Voice id not found", code 1201).
So every row here is one id in one language, with the name the provider gives it there.

Where the list comes from: the voice table of Kling's own API documentation (its
text-to-speech reference: 35 Chinese and 27 English entries), and CometAPI's text-to-speech
example, which sends `genshin_vindi2` with `voice_language: zh`. Some listed ids are
reported invalid by the provider: when one fails with "Voice id not found", delete its row.
This table is the only place voices live; the page, the command line and the simulator
read it.
"""

from __future__ import annotations

from dataclasses import dataclass

TTS_MAX_CHARS = 1000
TTS_MIN_SPEED = 0.8
TTS_MAX_SPEED = 2.0
TTS_LANGUAGES = ("en", "zh")
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


@dataclass(frozen=True)
class Voice:
    id: str
    language: str  # "en" or "zh"
    label: str  # the provider's name for the voice in that language


def _rows(language: str, table: str) -> tuple[Voice, ...]:
    """`id label` lines as voices of `language` (labels may hold spaces)."""
    pairs = (line.split(maxsplit=1) for line in table.strip().splitlines())
    return tuple(Voice(voice_id, language, label) for voice_id, label in pairs)


# English first: an id listed in both languages speaks English unless told otherwise.
VOICES: tuple[Voice, ...] = _rows(
    "en",
    """
    genshin_vindi2 Sunny
    zhinen_xuesheng Sage
    AOT Ace
    ai_shatang Blossom
    genshin_klee2 Peppy
    genshin_kirara Dove
    ai_kaiya Shine
    oversea_male1 Anchor
    ai_chenjiahao_712 Lyric
    girlfriend_4_speech02 Melody
    chat1_female_new-3 Tender
    chat_0407_5-1 Siren
    cartoon-boy-07 Zippy
    uk_boy1 Bud
    cartoon-girl-01 Sprite
    PeppaPig_platform Candy
    ai_huangzhong_712 Beacon
    ai_huangyaoshi_712 Rock
    ai_laoguowang_712 Titan
    chengshu_jiejie Grace
    you_pingjing Helen
    calm_story1 Lore
    uk_man2 Crag
    laopopo_speech02 Prattle
    heainainai_speech02 Hearth
    reader_en_m-v1 The Reader
    commercial_lady_en_f-v1 Commercial Lady
    """,
) + _rows(
    "zh",
    """
    genshin_vindi2 阳光少年
    zhinen_xuesheng 懂事小弟
    tiyuxi_xuedi 运动少年
    ai_shatang 青春少女
    genshin_klee2 温柔小妹
    genshin_kirara 元气少女
    ai_kaiya 阳光男生
    tiexin_nanyou 幽默小哥
    ai_chenjiahao_712 文艺小哥
    girlfriend_1_speech02 甜美邻家
    chat1_female_new-3 温柔姐姐
    girlfriend_2_speech02 职场女青
    cartoon-boy-07 活泼男童
    cartoon-girl-01 俏皮女童
    ai_huangyaoshi_712 稳重老爸
    you_pingjing 温柔妈妈
    ai_laoguowang_712 严肃上司
    chengshu_jiejie 优雅贵妇
    zhuxi_speech02 慈祥爷爷
    uk_oldman3 唠叨爷爷
    laopopo_speech02 唠叨奶奶
    heainainai_speech02 和蔼奶奶
    dongbeilaotie_speech02 东北老铁
    chongqingxiaohuo_speech02 重庆小伙
    chuanmeizi_speech02 四川妹子
    chaoshandashu_speech02 潮汕大叔
    ai_taiwan_man2_speech02 台湾男生
    xianzhanggui_speech02 西安掌柜
    tianjinjiejie_speech02 天津姐姐
    diyinnansang_DB_CN_M_04-v2 新闻播报男
    yizhipiannan-v1 译制片男
    guanxiaofang-v2 元气少女
    tianmeixuemei-v1 撒娇女友
    daopianyansang-v1 刀片烟嗓
    mengwa-v1 乖巧正太
    """,
)

DEFAULT_VOICE = "oversea_male1"
DEFAULT_VOICES = {"en": DEFAULT_VOICE, "zh": "genshin_vindi2"}  # the first choice per language


def voices_in(language: str) -> tuple[Voice, ...]:
    """The voices of one language, in the table's order."""
    return tuple(voice for voice in VOICES if voice.language == language)


def languages_of(voice_id: str) -> tuple[str, ...]:
    """The languages a listed voice speaks, its first language first; () if unlisted."""
    return tuple(voice.language for voice in VOICES if voice.id == voice_id)


def speaks(voice_id: str, language: str) -> bool:
    """Whether the table lists this voice in this language."""
    return language in languages_of(voice_id)
