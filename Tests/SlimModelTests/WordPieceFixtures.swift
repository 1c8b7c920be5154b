// Generated from Hugging Face transformers and tokenizers by the script at the end
// of this file; regenerate rather than edit.

/// What `BertTokenizerFast` gives for all-MiniLM-L6-v2 (truncated to 256 ids),
/// so the cross-checks need no Python. Long results are stored as hashes
/// (`WordPieceCrossCheck.hash`), short ones as ids.
enum WordPieceFixtures {
    static let reference = "transformers 5.23.0, tokenizers 0.23.3"

    /// The 2,000 texts of `WordPieceCrossCheck.randomTexts`, hashed 100 at a time.
    static let randomTextHashes: [UInt64] = [
        0xCBBA4D0E96BC788E, 0x0B054F79D47EE9FB, 0x309BD0DDD0065B8E, 0xF51AECF0CDCEF6DC,
        0x6C56913FC7201354, 0x457285C16C36AFB8, 0xA07CFBF92547D0AE, 0x83933CAEDE5957E4,
        0x4FB6D198A443A6AB, 0xBA18FA4EE9C45B70, 0xAC481DCA8BBE1FD9, 0xFE1D846E86CB932E,
        0x83C12CC2EFF7AEAB, 0x08E178CE656C7E9D, 0xA23324FFC6BC65C4, 0x0F43895BA5455B2D,
        0x9B8C3EF02253F11D, 0x152CDFDD686B3AF9, 0xA9F227EE06D98328, 0xB06FF60D5458AE57,
    ]

    /// What a random text is made of: a scalar from a range, or a whole string.
    enum Ingredient { case scalars(UInt32, UInt32), text(String) }

    static let ingredients: [Ingredient] = [
        .scalars(0x61, 0x7A), .scalars(0x61, 0x7A), .scalars(0x41, 0x5A), .scalars(0x30, 0x39), .scalars(0x20, 0x2F), .scalars(0x3A, 0x40),
        .scalars(0x5B, 0x60), .scalars(0x7B, 0x7E), .scalars(0x0, 0x1F), .scalars(0x7F, 0xA0), .scalars(0xA1, 0x17F), .scalars(0x300, 0x36F),
        .scalars(0x370, 0x3FF), .scalars(0x400, 0x4FF), .scalars(0x590, 0x6FF), .scalars(0x900, 0x97F), .scalars(0xE00, 0xE7F), .scalars(0x1100, 0x11FF),
        .scalars(0x1E00, 0x1EFF), .scalars(0x2000, 0x206F), .scalars(0x20A0, 0x20CF), .scalars(0x2100, 0x218F), .scalars(0x2190, 0x23FF), .scalars(0x2E00, 0x2E7F),
        .scalars(0x3000, 0x303F), .scalars(0x3040, 0x30FF), .scalars(0x4E00, 0x9FFF), .scalars(0xAC00, 0xD7A3), .scalars(0xE000, 0xE0FF), .scalars(0xF900, 0xFAFF),
        .scalars(0xFB00, 0xFB4F), .scalars(0xFE00, 0xFE0F), .scalars(0xFF00, 0xFFEF), .scalars(0xFFF0, 0xFFFF), .scalars(0x10000, 0x1034F), .scalars(0x11000, 0x1197F),
        .scalars(0x1D400, 0x1D7FF), .scalars(0x1F300, 0x1FAFF), .scalars(0x2B800, 0x2B9FF), .scalars(0xE0000, 0xE007F), .text("[MASK]"), .text("[SEP]"),
        .text("[CLS]"), .text("[UNK]"), .text("[PAD]"), .text("[mask]"), .text(" "), .text(" "),
        .text("\t"), .text("##"), .text("token"), .text("ization"), .text("un"), .text("affable"),
        .text("running"), .text("the"), .text("Café"), .text("e\u{301}"), .text("Straße"), .text("İ"),
        .text("ΟΔΟΣ"), .text("naïve"), .text("日本"), .text("😀"), .text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ]

    /// Each document of lee.cor (Latin-1, one per line), hashed.
    static let leeHashes: [UInt64] = [
        0x1537B49EFA21C10F, 0x1D86423E76046C2F, 0xD785594F4F8E9F7F, 0x3D4D45038F8BE8AD,
        0x3DE910910CCBF692, 0x0422FD16F8941958, 0xB6436DA5B09484E9, 0xCF3281FCDFE45C95,
        0x701B1DEC503A7670, 0xCD1CE1E02B96FFEF, 0xBFE70C4FCA7E0873, 0x012C8347B1F3AE19,
        0x1B71C31FF90B2CD6, 0x483D51EFA92C8060, 0xEB61ACB570CE2397, 0x16917A885B4DBC71,
        0x506E5CA68F10C60A, 0x135FFDDC45B201FC, 0xC29B1F8B10666567, 0xD6B12F7AB7E5ECCE,
        0xDB4196EDE5FA078E, 0x195EDB59A3C2FC72, 0xBDFA59FBFA171FD6, 0xF1D2C119E1891ED6,
        0xE84BB4A2C365F819, 0xA41189A2A02A1A8F, 0xB17709AC77253615, 0x885EEA18EF9B3106,
        0xCA1A84D04F6B413F, 0x2CCA6ED03728FF1E, 0x665C0727A546A490, 0xB2E0487D5846AE3F,
        0x46ECB44B6705E67D, 0xFC715ACB4A7EE684, 0xE237687E1183ADD0, 0x7DAD6B65D8F6B046,
        0xF6FA6229768F6BEC, 0x941616E48DEDF1A7, 0xCABF615D74D629F9, 0xC5A8ABA73FAA2973,
        0xE138D2DE35A45B13, 0x57CA561A35FBC057, 0x6BF550801C6275CE, 0xF6AF9A8FFF6CAD9F,
        0xF41FCC332B030ABD, 0x9D3341E352571ED9, 0xFE19A3136B16A479, 0x3C24442E2676787F,
        0x86FAE0FB452E134D, 0x83629B84EB2B293F,
    ]

    /// Each fortune file's fortunes (split at "\n%\n"), counted and hashed together.
    static let fortuneHashes: [(file: String, count: Int, hash: UInt64)] = [
        ("art.u8", 466, 0xC9EE95125AC50EFD),
        ("ascii-art.u8", 11, 0xFEF36308790ED3AC),
        ("computers.u8", 1051, 0xD9BAEE6E5A8AE49A),
        ("cookie.u8", 1134, 0xBF14D14EC1560E8C),
        ("debian.u8", 86, 0x0C23D56FAA7D8437),
        ("definitions.u8", 1204, 0xD0CC39BB7F7CC8CB),
        ("disclaimer.u8", 285, 0xF4C76682B6CECCC2),
        ("drugs.u8", 209, 0x30EA30C9BA049723),
        ("education.u8", 204, 0x3E205A7B0463D182),
        ("ethnic.u8", 162, 0x08180981D6572152),
        ("food.u8", 199, 0x371223563899BBCB),
        ("fortunes.u8", 432, 0xAE2F1BCDB20E5E41),
        ("goedel.u8", 55, 0xD0FC51320C28AAC6),
        ("humorists.u8", 198, 0x1684EDD8B6B93814),
        ("kids.u8", 151, 0xB2853DA6F51FFB4D),
        ("knghtbrd.u8", 541, 0xA4D175812F2091D4),
        ("law.u8", 206, 0xEFED86E35B5AC74D),
        ("linux.u8", 337, 0x0D40EF65C66C5FB1),
        ("linuxcookie.u8", 104, 0x86F85AA6F9CE167E),
        ("literature.u8", 263, 0x1320205A3A863C8A),
        ("love.u8", 151, 0x6564699369E670B3),
        ("magic.u8", 31, 0x197400795DCC3353),
        ("medicine.u8", 75, 0xF46A08BFE5EA3BA9),
        ("men-women.u8", 583, 0x6CB9FF72D7272D83),
        ("miscellaneous.u8", 652, 0x9922212DC639843A),
        ("news.u8", 54, 0x3BA802CC3121F058),
        ("paradoxum.u8", 73, 0xE5F0010B608F6A34),
        ("people.u8", 1251, 0xBE9D7496177F46BE),
        ("perl.u8", 274, 0xB574ADCF6C30D092),
        ("pets.u8", 53, 0xB8E2EC88A9AA8D9B),
        ("platitudes.u8", 501, 0x868AAFDFDFCDC0B4),
        ("politics.u8", 704, 0x596AC3951E885C90),
        ("pratchett.u8", 2, 0xF237A88D6472D9FC),
        ("riddles.u8", 129, 0xCB9FC0BB3FD5BFE7),
        ("science.u8", 626, 0xF12199ED9705BF9E),
        ("songs-poems.u8", 721, 0x959EA60187C32A86),
        ("sports.u8", 148, 0x234A9B844EC07E9D),
        ("startrek.u8", 228, 0xB3364891D6DA9D67),
        ("tao.u8", 84, 0xB7269C7632FD184D),
        ("translate-me.u8", 13, 0xF61125B5DEC6CE05),
        ("wisdom.u8", 425, 0x57E54C04E0F78CA1),
        ("work.u8", 631, 0xFA6831C9EF3DBB3E),
        ("zippy.u8", 549, 0xED8B845A53952088),
    ]

    /// Normalised and pre-tokenised words of "a" + c + "b" for every code point c,
    /// hashed per block of 4,096 (`WordPieceCrossCheck.codePointBlockHash`).
    static let codePointBlockHashes: [UInt64] = [
        0x47FE4C0847A2AD6B, 0x518EA341853C72F1, 0xBAF56E7BD14FFC6E, 0x508291B4BCBC1DB4,
        0xD461A05E4A72BF25, 0xE9C8BC2AA8BF2325, 0x584B4F5222972325, 0x4A197701FAFE6325,
        0x0754CC4E8E81E325, 0xC8551D86F24CA325, 0x13EA38E9D7F76E5C, 0x308C652C7B53E615,
        0xD40A7F94F2F5C934, 0xE662AD03C7B7E94E, 0x684EADD32210A325, 0x7A7181ECA4B335B3,
        0xFC028F66B2FF7A99, 0x0FBEEEB594CDB2DC, 0x3A7B442EDB5B203D, 0x93EE9EFD426A2325,
        0x54252949A068E325, 0x4BC23B2DF7F62325, 0xA395A5CDA9FB434D, 0xD11466B87AE1A325,
        0x65CDF3B8AE936325, 0x440E56116F99A325, 0xFDB16FCDE6BB6325, 0xE9072D0FD0C15080,
        0x1221613E596AE325, 0x29D10612AC1C7363, 0x4B1FB350C3F5E41A, 0xDC23E6BADEBAA325,
        0xD93E6F3805DDE325, 0xFEDEA1602BC4A325, 0xDD0A93F86F772325, 0x5908AED6908A6325,
        0x5B59E15AC9AF6325, 0xCDCBD89A9F6B2325, 0x2E89527D50AB2325, 0xDDD682C18CD26325,
        0x3B0C0CB0C809E325, 0x4ABFC5353658A325, 0x4780D1B95E38F425, 0x7B295E8A317B0725,
        0xE963BA9EC55727C5, 0xF45F969644E52325, 0xB02FF6606951E325, 0x10FE34C098213C12,
        0x1246D758B9286325, 0x3C4972EE79BFA325, 0x5FF9446AF25B6325, 0xE5D7D86804762325,
        0x5D8EF4F41D54E325, 0xEDDF6BC9F58A2325, 0x7266B0BE1364E325, 0xBB170CC4CBC5A325,
        0x41F59D5B39076325, 0x78BE80B48069A325, 0x14756A4A483F6325, 0x7C34FFFECA7E2325,
        0x23E5DB2D3E1AE325, 0xCB8DA4791E352325, 0x4A0AC4624129E325, 0xECC7623E04CEA325,
        0x5EB8577B4EAE6325, 0xF08C3C932EC1A325, 0x6AD3741805096325, 0xD483B43CD9AC2325,
        0x0019877DEAF4E325, 0x0E7B57A2DA1C2325, 0x3828B7BBCE5AE325, 0x4252F777D2A5A325,
        0xDB08DD1BE8776325, 0xC579EC9684EFA325, 0xB39274F05DF56325, 0x53DBBA6214102325,
        0x40C99DF618E2E325, 0x0BA8CAD524E52325, 0x99D0FCF72C85E325, 0x25BBDAE9C6B4A325,
        0xE7B3B66F363C6325, 0x2FE2892A14FFA325, 0xE4B8338194C76325, 0xC360A0BD46322325,
        0x19A6E9342D68E325, 0x002E435BA65E2325, 0x5CB61969C2C8E325, 0xB3D45D5D2899A325,
        0x0CC5919F1B836325, 0x0A6DB6F90369A325, 0xCD6E1BEE7A136325, 0xE37F029A56062325,
        0x8030291283F2E325, 0x7A9A534B22052325, 0xF044350AFF4DE325, 0x66A7D2CFE84AA325,
        0x80E34FA2D33E6325, 0xA720E819544DA325, 0x6D9F02A002216325, 0xAA2716CA407C2325,
        0xC3F981AA2CA8E325, 0x20FE04C7634C2325, 0x77AA83726A82E325, 0x51E7461A0FC9A325,
        0x227EB0036E7B6325, 0xBE8904CDADA3A325, 0x00960C1208856325, 0xA82E01E10B6C2325,
        0xC9D2DAF4DF5AE325, 0xD02832AF71BD2325, 0x45D67F3D2A19E325, 0x468F86406EBCA325,
        0x542AE26A06586325, 0x464E0EEE98CFA325, 0xDE32250E67436325, 0xBAA256C22F162325,
        0xF49CE461CF5CE325, 0x72255125511A2325, 0x49398D8796E4E325, 0x56FCC2D57C45A325,
        0x036CE9D3402F6325, 0x4477886664A9A325, 0x565F5B18CF6F6325, 0x5C81104FC6F62325,
        0x5189A778B6D2E325, 0xEFE0DA3DA12D2325, 0x745E1E5B65F9E325, 0xF93EC44A40E6A325,
        0x2C38419A230E6325, 0x8E5CA02A6281A325, 0xFECDC77A94996325, 0xA526931502842325,
        0x603099F30E2CE325, 0x819B402961642325, 0x8088593C7E62E325, 0x182606580DBDA325,
        0xBD76E98344E76325, 0xB9EE7F98EE7FA325, 0xAD29EA68A6656325, 0x2218F7C8A0E82325,
        0xD0D0F21A6D62E325, 0x7401317DB87D2325, 0xF963E6CBBA45E325, 0x0D7577D9E3A4A325,
        0xCF7DC85CB8846325, 0x2EAB36D53A3FA325, 0xA9CB2A4E4DB76325, 0x4B2F988B90AA2325,
        0xEBB67390C468E325, 0xBB628A666CE62325, 0x0F1B251D3BF0E325, 0xBF3D9A275061A325,
        0xAF22C3A631036325, 0x56DB3607D369A325, 0x45723FB8324B6325, 0x45977093CDCE2325,
        0x32BCC61F781AE325, 0x5F9966EDCC2D2325, 0x2DA937BBC435E325, 0x07D923D3D95AA325,
        0xB3D5369B845E6325, 0xEC84523BE9A5A325, 0x8B2B78F5ADE16325, 0x37450F155B342325,
        0x9F519BDF5648E325, 0x5F0A30BA97742325, 0x333B82ED9A1AE325, 0x89F710F67C09A325,
        0x7B57F9F15F136325, 0xFDA9B729B11BA325, 0x42CADB1417D56325, 0xAA0809CFA09C2325,
        0xE3EDC33F448AE325, 0xAC144732E3652325, 0x09550C595F01E325, 0x1CC69BBD797CA325,
        0x3E0E8D5FC6786325, 0x15ACCE45C9EFA325, 0x3A4316F8BAEB6325, 0xF4A91CCE37362325,
        0x2EE81C179964E325, 0x87961EE2719A2325, 0x29D7B10B9604E325, 0x8231E92239A5A325,
        0x7BB71E998DE76325, 0xF72C5CAA50C9A325, 0x737964BE81BF6325, 0x2DE11C3619BE2325,
        0x4D713D4FDF9AE325, 0x2CEB977325452325, 0x4A10F6953F59E325, 0x66E12BD6D50EA325,
        0x8E6EF40C43CE6325, 0x3830BD6FC481A325, 0x929D40EF9CC96325, 0xF25FE96650EC2325,
        0xBB5822104804E325, 0x8A5992BEAFDC2325, 0x64C775CB70EAE325, 0x5CD22ADAB355A325,
        0x90F54922C5976325, 0x27042C50C58FA325, 0x4F1EF2CEA6856325, 0xE5E10D4927B02325,
        0xC19334210D22E325, 0x2A7B9FEA52152325, 0x06E6B76F4D85E325, 0x21E6CC03FBF4A325,
        0x49762A6FF74C6325, 0x38782727CF3FA325, 0xC91D8A72B2376325, 0x4CCD2E7837C22325,
        0x029B41A6F208E325, 0x146756CB5A1E2325, 0x228AEAA8FC18E325, 0xFDFA91770889A325,
        0xFF8219138BF36325, 0x65E4305C4319A325, 0xBD500A593B136325, 0x2AF568323B362325,
        0x215F9C066C12E325, 0x66D54D56AC052325, 0x9A3EB036C95DE325, 0x05FD31A6752AA325,
        0xFFF3FABAB15FD190, 0x27FD73B80B9DA325, 0x3303E05B90D16325, 0x6D3F80BBD6EC2325,
        0x98C2D36CAE78E325, 0x69199A8EA7AC2325, 0x80571476D792E325, 0x7386B7488369A325,
        0xBE59F283E76B6325, 0xE409B6ACE0A3A325, 0x6D9FA039E7D56325, 0xEA48E8B0E13C2325,
        0x10B222E8582AE325, 0xC673EE56A4CD2325, 0xB6457BCBAEB9E325, 0xC3B758AAD9ECA325,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x179249F4AF4C7A6C,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325,
        0x684EADD32210A325, 0x684EADD32210A325, 0x684EADD32210A325, 0x25CC9AAB12FC7A6C,
    ]

    /// Sentences in many scripts, with their ids.
    static let multilingual: [(text: String, ids: [Int32])] = [
        ("Les élèves ont été très surpris par l'œuvre.",
         [101, 4649, 3449, 23047, 2006, 2102, 3802, 2063, 24403, 7505, 18098, 2483, 11968, 1048, 1005, 1107, 2226, 12229, 1012, 102]),
        ("Der Fluß ist groß, die Straße schmal.",
         [101, 4315, 19857, 19310, 21541, 24665, 2080, 19310, 1010, 3280, 2358, 27807, 8040, 22444, 2140, 1012, 102]),
        ("¿Dónde está el baño? ¡Aquí!",
         [101, 1094, 2123, 3207, 9765, 2050, 3449, 7221, 2080, 1029, 1067, 1037, 15549, 999, 102]),
        ("Tiếng Việt có nhiều dấu thanh: ả, ẫ, ợ.",
         [101, 5495, 3070, 19710, 2522, 18699, 17301, 4830, 2226, 2084, 2232, 1024, 1037, 1010, 1037, 1010, 1051, 1012, 102]),
        ("Η γλώσσα είναι ελληνική.",
         [101, 1161, 1157, 29727, 29739, 29733, 29733, 14608, 1159, 18199, 16177, 14608, 18199, 1159, 29727, 29727, 24824, 16177, 18199, 29726, 24824, 1012, 102]),
        ("Москва — столица России.",
         [101, 1191, 14150, 29747, 23925, 25529, 10260, 1517, 1196, 22919, 14150, 29436, 10325, 29751, 10260, 1195, 14150, 29747, 29747, 15414, 1012, 102]),
        ("שלום עולם",
         [101, 1266, 29799, 29792, 29800, 1259, 29792, 29799, 29800, 102]),
        ("مرحبا بالعالم",
         [101, 1295, 17149, 29820, 29816, 25573, 1271, 25573, 23673, 29830, 25573, 23673, 22192, 102]),
        ("नमस\u{94D}त\u{947} द\u{941}न\u{93F}य\u{93E}",
         [101, 1327, 29867, 29874, 29859, 1325, 29863, 29877, 29868, 29876, 102]),
        ("สว\u{E31}สด\u{E35}คร\u{E31}บ",
         [101, 100, 102]),
        ("こんにちは、世界！",
         [101, 1655, 30217, 30194, 30188, 30198, 1635, 1745, 100, 1986, 102]),
        ("안녕하세요 세계",
         [101, 1463, 30006, 30021, 29992, 30010, 30025, 30005, 30006, 29997, 30009, 29999, 30013, 100, 102]),
        ("你好，世界。我们在北京。",
         [101, 100, 100, 1989, 1745, 100, 1636, 1855, 100, 100, 1781, 1755, 1636, 102]),
        ("Emoji 👍🏽 and ZWJ 👨\u{200D}👩\u{200D}👧 family",
         [101, 7861, 29147, 2072, 100, 1998, 1062, 2860, 3501, 100, 2155, 102]),
        ("Ligatures ﬁ ﬂ and fullwidth ＡＢＣ",
         [101, 8018, 22662, 1984, 1985, 1998, 2440, 9148, 11927, 2232, 100, 102]),
        ("Math: ∑ x² ≤ ∞, ½ + ¼",
         [101, 8785, 1024, 100, 1060, 10701, 1608, 1601, 1010, 1092, 1009, 1091, 102]),
        ("Quotes “double” ‘single’ «guillemets» „low“",
         [101, 16614, 1523, 3313, 1524, 1520, 2309, 1521, 1077, 26458, 6216, 11368, 2015, 1090, 1525, 2659, 1523, 102]),
        ("Dashes: en – em — minus − hyphen‐",
         [101, 11454, 2229, 1024, 4372, 1516, 7861, 1517, 15718, 1597, 1044, 22571, 10222, 1513, 102]),
        ("Tabs\tand\nnew\r\nlines\u{2028}here",
         [101, 21628, 2015, 1998, 2047, 3210, 2182, 102]),
        ("Zero\u{200B}width\u{200C}\u{200D}joiners and soft\u{AD}hyphen",
         [101, 5717, 9148, 11927, 2232, 5558, 26455, 2015, 1998, 3730, 10536, 8458, 2368, 102]),
        ("RTL\u{200F}mark and BOM\u{FEFF}inside",
         [101, 19387, 19145, 8024, 1998, 8945, 21266, 5178, 102]),
        ("Ⅻ ① ⑴ ㊙ ℃ №",
         [101, 100, 100, 100, 100, 100, 1578, 102]),
        ("Combining: e\u{301} a\u{308} o\u{303} and stacked a\u{301}\u{308}\u{323}",
         [101, 11566, 1024, 1041, 1037, 1051, 1998, 16934, 1037, 102]),
        ("Ångström Å and Ω Ω",
         [101, 17076, 15687, 1037, 1998, 1179, 1179, 102]),
        ("ǅungla ǈ ǋ",
         [101, 100, 100, 100, 102]),
        ("a\u{1E944}\u{1D165} reorder",
         [101, 100, 2128, 8551, 2121, 102]),
        ("x\u{1DF6}\u{1D165} no reorder",
         [101, 100, 2053, 2128, 8551, 2121, 102]),
    ]
}

// The generator:
//
// # Writes WordPieceFixtures.swift (the path given, else stdout): what Hugging Face's
// # BertTokenizerFast gives for all-MiniLM-L6-v2. Needs transformers and tokenizers
// # (python3 -m venv v && v/bin/pip install transformers tokenizers).
// import glob, os, sys, unicodedata
// import tokenizers, transformers
// from transformers import AutoTokenizer
//
// MODEL = os.path.expanduser('~/.cache/slim/models/all-MiniLM-L6-v2')
// DATA = os.path.expanduser('~/.cache/slim/data')
// tok = AutoTokenizer.from_pretrained(MODEL)
// assert tok.is_fast
// M = (1 << 64) - 1
//
// def mix(h, x): return ((h ^ x) * 0x100000001b3) & M
// def ids_of(texts): return tok(texts, truncation=True, max_length=256)['input_ids'] if texts else []
// def hash_ids(seqs, h=0xcbf29ce484222325):
//     for ids in seqs:
//         for i in ids: h = mix(h, i)
//         h = mix(h, 0xFFFFFFFF)
//     return h
//
// # Random texts: splitmix64 over a palette of code-point ranges and words.
// PALETTE = [
//     (0x61, 0x7A), (0x61, 0x7A), (0x41, 0x5A), (0x30, 0x39), (0x20, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E),
//     (0x00, 0x1F), (0x7F, 0xA0), (0xA1, 0x17F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
//     (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20A0, 0x20CF),
//     (0x2100, 0x218F), (0x2190, 0x23FF), (0x2E00, 0x2E7F), (0x3000, 0x303F), (0x3040, 0x30FF), (0x4E00, 0x9FFF),
//     (0xAC00, 0xD7A3), (0xE000, 0xE0FF), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE00, 0xFE0F), (0xFF00, 0xFFEF),
//     (0xFFF0, 0xFFFF), (0x10000, 0x1034F), (0x11000, 0x1197F), (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF),
//     (0x2B800, 0x2B9FF), (0xE0000, 0xE007F),
//     "[MASK]", "[SEP]", "[CLS]", "[UNK]", "[PAD]", "[mask]", " ", " ", "\t", "##", "token", "ization", "un", "affable",
//     "running", "the", "Café", "e\u0301", "Straße", "İ", "ΟΔΟΣ", "naïve", "日本", "😀", "a" * 50,
// ]
//
// def splitmix(state):
//     state = (state + 0x9E3779B97F4A7C15) & M
//     z = state
//     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
//     return state, z ^ (z >> 31)
//
// def random_texts(count, seed=2024):
//     state, texts = seed, []
//     for _ in range(count):
//         state, r = splitmix(state)
//         parts = []
//         for _ in range(1 + r % 24):
//             state, r = splitmix(state)
//             item = PALETTE[r % len(PALETTE)]
//             if isinstance(item, str):
//                 parts.append(item)
//             else:
//                 state, r = splitmix(state)
//                 parts.append(chr(item[0] + r % (item[1] - item[0] + 1)))
//         texts.append(''.join(parts))
//     return texts
//
// def code_point_hashes():
//     n, p = tok.backend_tokenizer.normalizer, tok.backend_tokenizer.pre_tokenizer
//     hashes = []
//     for block in range(0x110000 // 0x1000):
//         h = 0xcbf29ce484222325
//         for cp in range(block * 0x1000, (block + 1) * 0x1000):
//             if 0xD800 <= cp <= 0xDFFF: continue
//             for w, _ in p.pre_tokenize_str(n.normalize_str('a' + chr(cp) + 'b')):
//                 for c in w: h = mix(h, ord(c))
//                 h = mix(h, 0x110000)
//             h = mix(h, 0x110001)
//         hashes.append(h)
//     return hashes
//
// MULTILINGUAL = [
//     "Les élèves ont été très surpris par l'œuvre.", "Der Fluß ist groß, die Straße schmal.", "¿Dónde está el baño? ¡Aquí!",
//     "Tiếng Việt có nhiều dấu thanh: ả, ẫ, ợ.", "Η γλώσσα είναι ελληνική.", "Москва — столица России.", "שלום עולם",
//     "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีครับ", "こんにちは、世界！", "안녕하세요 세계", "你好，世界。我们在北京。",
//     "Emoji 👍🏽 and ZWJ 👨‍👩‍👧 family", "Ligatures ﬁ ﬂ and fullwidth ＡＢＣ", "Math: ∑ x² ≤ ∞, ½ + ¼",
//     "Quotes “double” ‘single’ «guillemets» „low“", "Dashes: en – em — minus − hyphen‐", "Tabs\tand\nnew\r\nlines\u2028here",
//     "Zero\u200bwidth\u200c\u200djoiners and soft\u00adhyphen", "RTL\u200fmark and BOM\ufeffinside", "Ⅻ ① ⑴ ㊙ ℃ №",
//     "Combining: e\u0301 a\u0308 o\u0303 and stacked a\u0301\u0308\u0323", "Ångström Å and Ω Ω", "ǅungla ǈ ǋ",
//     "a\U0001E944\U0001D165 reorder", "x\u1DF6\U0001D165 no reorder",
// ]
//
// out = {
//     'versions': f'transformers {transformers.__version__}, tokenizers {tokenizers.__version__}',
//     'random': [hash_ids(ids_of(chunk)) for chunk in (lambda t: [t[i:i + 100] for i in range(0, len(t), 100)])(random_texts(2000))],
//     'lee': [hash_ids([ids]) for ids in ids_of([d for d in open(f'{DATA}/lee/lee.cor', encoding='latin-1').read().split('\n') if d])],
//     'fortunes': {},
//     'codePoints': code_point_hashes(),
//     'multilingual': [(t, ids) for t, ids in zip(MULTILINGUAL, ids_of(MULTILINGUAL))],
// }
// for f in sorted(glob.glob(f'{DATA}/fortunes/*.u8')):
//     pieces = [b.decode('utf-8') for b in open(f, 'rb').read().split(b'\n%\n')]
//     out['fortunes'][os.path.basename(f)] = (len(pieces), hash_ids(ids_of(pieces)))
//
// # Swift
// d, pal = out, PALETTE
//
// def lit(s):
//     out = []
//     for c in s:
//         if c in '\\"': out.append('\\' + c)
//         elif c == '\n': out.append('\\n')
//         elif c == '\t': out.append('\\t')
//         elif c == '\r': out.append('\\r')
//         elif c != ' ' and unicodedata.category(c)[0] in 'CMZ': out.append('\\u{%X}' % ord(c))
//         else: out.append(c)
//     return '"' + ''.join(out) + '"'
//
// def hexes(xs, per=4, indent='        '):
//     items = ['0x%016X' % x for x in xs]
//     return '\n'.join(indent + ', '.join(items[i:i + per]) + ',' for i in range(0, len(items), per))
//
// L = []
// L.append('// Generated from Hugging Face transformers and tokenizers by the script at the end')
// L.append('// of this file; regenerate rather than edit.')
// L.append('')
// L.append('/// What `BertTokenizerFast` gives for all-MiniLM-L6-v2 (truncated to 256 ids),')
// L.append('/// so the cross-checks need no Python. Long results are stored as hashes')
// L.append('/// (`WordPieceCrossCheck.hash`), short ones as ids.')
// L.append('enum WordPieceFixtures {')
// L.append('    static let reference = "%s"' % d['versions'])
// L.append('')
// L.append('    /// The 2,000 texts of `WordPieceCrossCheck.randomTexts`, hashed 100 at a time.')
// L.append('    static let randomTextHashes: [UInt64] = [')
// L.append(hexes(d['random']))
// L.append('    ]')
// L.append('')
// L.append('    /// What a random text is made of: a scalar from a range, or a whole string.')
// L.append('    enum Ingredient { case scalars(UInt32, UInt32), text(String) }')
// L.append('')
// L.append('    static let ingredients: [Ingredient] = [')
// items = []
// for p in pal:
//     items.append('.scalars(0x%X, 0x%X)' % tuple(p) if isinstance(p, tuple) else '.text(%s)' % lit(p))
// for i in range(0, len(items), 6):
//     L.append('        ' + ', '.join(items[i:i + 6]) + ',')
// L.append('    ]')
// L.append('')
// L.append('    /// Each document of lee.cor (Latin-1, one per line), hashed.')
// L.append('    static let leeHashes: [UInt64] = [')
// L.append(hexes(d['lee']))
// L.append('    ]')
// L.append('')
// L.append('    /// Each fortune file\'s fortunes (split at "\\n%\\n"), counted and hashed together.')
// L.append('    static let fortuneHashes: [(file: String, count: Int, hash: UInt64)] = [')
// for f, (n, h) in d['fortunes'].items():
//     L.append('        ("%s", %d, 0x%016X),' % (f, n, h))
// L.append('    ]')
// L.append('')
// L.append('    /// Normalised and pre-tokenised words of "a" + c + "b" for every code point c,')
// L.append('    /// hashed per block of 4,096 (`WordPieceCrossCheck.codePointBlockHash`).')
// L.append('    static let codePointBlockHashes: [UInt64] = [')
// L.append(hexes(d['codePoints']))
// L.append('    ]')
// L.append('')
// L.append('    /// Sentences in many scripts, with their ids.')
// L.append('    static let multilingual: [(text: String, ids: [Int32])] = [')
// for t, ids in d['multilingual']:
//     L.append('        (%s,' % lit(t))
//     L.append('         [%s]),' % ', '.join(map(str, ids)))
// L.append('    ]')
// L.append('}')
// L.append('')
// L.append('// The generator:')
// L.append('//')
// L.extend(('// ' + l).rstrip() for l in open(__file__).read().rstrip().split('\n'))
// (open(sys.argv[1], 'w') if len(sys.argv) > 1 else sys.stdout).write('\n'.join(L) + '\n')
