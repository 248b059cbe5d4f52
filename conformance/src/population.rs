//! A deterministic synthetic population: households of invented people living in four wards of
//! 横浜市, shaped like a real municipality's resident record.
//!
//! The same size and seed always give the same population, down to every code point and
//! individual number, so a failing test can be rerun exactly. Nothing reads the clock or the OS's
//! randomness: ages are reckoned on [`reference_date`] and the generator is a splitmix64 seeded
//! from the caller's seed.
//!
//! The first households are fixed (the same for every seed) and hold the hard cases that every
//! consumer of the resident record must cope with: IVS and MJ+ names, 髙 and 﨑, foreign residents
//! with and without a 通称, births on era boundaries, a person with no fixed address, a 旧氏 user,
//! a household of ten and a three-generation household. [`HardCase`] names each of them and its
//! fixed 宛名番号; everything after them is drawn from the seed.
//!
//! ```
//! use renkei_conformance::population::{HardCase, Population};
//!
//! let population = Population::generate(1_000, 7);
//! assert_eq!(population.len(), 1_000);
//! let kasai = population.hard_case(HardCase::IvsName).unwrap();
//! assert_eq!(kasai.name.family.as_str(), "葛\u{E0100}西");
//! assert_eq!(kasai.atena_number.as_str(), "0000000019");
//! ```

use renkei_model::{
    Address, AtenaNumber, Date, Household, HouseholdNumber, IndividualNumber, KanaText, Kin,
    LocalGovernmentCode, MojiText, NameWithKana, Nationality, PersonName, PostalCode, Relationship, Resident,
    ResidentStatus, Sex,
};

/// Digits of every generated 宛名番号 and 世帯番号, check digit included.
pub const NUMBER_WIDTH: usize = 10;

/// The day every age in the population is reckoned on: 2026-04-01, the first day of the school
/// and fiscal year, so "a child of every school age" means the same thing in every run.
pub fn reference_date() -> Date {
    Date::from_ymd(2026, 4, 1).expect("a valid constant date")
}

/// The 在留資格 codes the population uses, with the status each stands for. The resident record
/// holds a code, not the label; these short codes are this population's code table, and a
/// mapping file translates them to a vendor's.
pub const RESIDENCE_STATUS_CODES: [(&str, &str); 9] = [
    ("PR", "永住者"),
    ("SJ", "日本人の配偶者等"),
    ("SP", "永住者の配偶者等"),
    ("LTR", "定住者"),
    ("ENG", "技術・人文知識・国際業務"),
    ("TIT", "技能実習"),
    ("SSW", "特定技能"),
    ("STU", "留学"),
    ("DEP", "家族滞在"),
];

/// The 在留資格 label for one of [`RESIDENCE_STATUS_CODES`].
pub fn residence_status_label(code: &str) -> Option<&'static str> {
    RESIDENCE_STATUS_CODES.iter().find(|(c, _)| *c == code).map(|(_, label)| *label)
}

/// The people every population of at least [`HardCase::MIN_POPULATION`] residents holds, at fixed
/// 宛名番号 (the same for every seed). Several cases may be the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HardCase {
    /// 葛󠄀西 太郎 (葛 + U+E0100 in the family name), head of a family of four; born 1989-01-08,
    /// the first day of 平成. Searching for 葛西 without the selector must find him.
    IvsName,
    /// 葛󠄀西 美咲, born 1989-01-07 (昭和64年1月7日, the last day of 昭和).
    ShowaLastDay,
    /// 葛󠄀西 陽向, born 2019-05-01 (令和元年5月1日).
    ReiwaFirstDay,
    /// 山﨑 蓮, born 2019-04-30 (平成31年4月30日).
    HeiseiLastDay,
    /// 髙橋 ハル, born 1926-12-25 (昭和元年12月25日), who lives alone.
    ShowaFirstDay,
    /// 髙橋 ハル: 髙 (U+9AD9), a different character from 高 (U+9AD8).
    TakaVariant,
    /// 山﨑 健二: 﨑 (U+FA11, in the CJK compatibility block but a unified ideograph with no
    /// decomposition; outside JIS X 0208, so Shift_JIS cannot carry it, only CP932).
    SakiVariant,
    /// 山﨑 由美, who has her 旧氏 伊藤 recorded.
    FormerSurname,
    /// U+F0101 本 誠: the first character of the family name is an MJ+ character in the private
    /// use area (a synthetic code point standing for a variant of 辻 not yet in Unicode).
    PrivateUseName,
    /// KIM MINJUN (KR, 永住者 `PR`), name in Latin letters, 通称 金本　民俊.
    ForeignWithAlias,
    /// NGUYEN VAN AN (VN, 技能実習 `TIT`), no 通称.
    ForeignWithoutAlias,
    /// PARK YOUNGHO (KR), a special permanent resident (特別永住者: no 在留資格 code), 通称 新井　英浩.
    SpecialPermanentResident,
    /// 田村 修, registered with no fixed address (`address: None`).
    NoFixedAddress,
    /// 大野 浩, head of a household of ten: spouse, five children, 父, 母 and 妹.
    HouseholdOfTen,
    /// 石田 茂, head of a three-generation household: 妻, 子, 子の妻 and two 子の子.
    ThreeGenerations,
}

impl HardCase {
    /// Every case, in 宛名番号 order.
    pub const ALL: [HardCase; 15] = [
        HardCase::IvsName,
        HardCase::ShowaLastDay,
        HardCase::ReiwaFirstDay,
        HardCase::HeiseiLastDay,
        HardCase::ShowaFirstDay,
        HardCase::TakaVariant,
        HardCase::SakiVariant,
        HardCase::FormerSurname,
        HardCase::PrivateUseName,
        HardCase::ForeignWithAlias,
        HardCase::ForeignWithoutAlias,
        HardCase::SpecialPermanentResident,
        HardCase::NoFixedAddress,
        HardCase::HouseholdOfTen,
        HardCase::ThreeGenerations,
    ];

    /// Residents in the fixed households; a population this large or larger holds every case.
    pub const MIN_POPULATION: usize = 30;

    /// The serial of the person's 宛名番号 (its position in the population, from 1).
    pub fn serial(self) -> u64 {
        match self {
            HardCase::IvsName => 1,
            HardCase::ShowaLastDay => 2,
            HardCase::ReiwaFirstDay => 3,
            HardCase::ShowaFirstDay | HardCase::TakaVariant => 5,
            HardCase::SakiVariant => 6,
            HardCase::FormerSurname => 7,
            HardCase::HeiseiLastDay => 8,
            HardCase::PrivateUseName => 9,
            HardCase::ForeignWithAlias => 10,
            HardCase::ForeignWithoutAlias => 12,
            HardCase::SpecialPermanentResident => 13,
            HardCase::NoFixedAddress => 14,
            HardCase::HouseholdOfTen => 15,
            HardCase::ThreeGenerations => 25,
        }
    }

    /// The person's 宛名番号, the same in every population that holds the case.
    pub fn atena_number(self) -> AtenaNumber {
        AtenaNumber::from_serial(self.serial(), NUMBER_WIDTH).expect("a small serial fits ten digits")
    }
}

/// A generated population: households, head first, numbered from 1 in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    households: Vec<Household>,
    residents: usize,
}

impl Population {
    /// Exactly `residents` people in households, the same for the same `residents` and `seed`.
    ///
    /// The fixed households come first ([`HardCase`]); when `residents` is smaller than
    /// [`HardCase::MIN_POPULATION`] the population is a prefix of them and the last household may
    /// be cut short (it keeps its head, who is always listed first).
    pub fn generate(residents: usize, seed: u64) -> Self {
        let mut generator = Generator::new(residents, seed);
        for household in fixed_households() {
            generator.push(household);
        }
        while generator.remaining > 0 {
            let household = generator.random_household();
            generator.push(household);
        }
        Population { households: generator.households, residents }
    }

    /// The households, in 世帯番号 order.
    pub fn households(&self) -> &[Household] {
        &self.households
    }

    /// The households, to hand to a simulator or a fixture without copying.
    pub fn into_households(self) -> Vec<Household> {
        self.households
    }

    /// Every resident, household by household, in 宛名番号 order.
    pub fn residents(&self) -> impl Iterator<Item = &Resident> {
        self.households.iter().flat_map(|h| h.members.iter())
    }

    /// The number of residents.
    pub fn len(&self) -> usize {
        self.residents
    }

    /// No residents at all (only when generated with `residents` = 0).
    pub fn is_empty(&self) -> bool {
        self.residents == 0
    }

    /// The first resident, in 宛名番号 order, for whom `predicate` holds.
    pub fn find(&self, mut predicate: impl FnMut(&Resident) -> bool) -> Option<&Resident> {
        self.residents().find(|r| predicate(r))
    }

    /// The resident with this 宛名番号 (a linear scan; fine for fixtures of any size used here).
    pub fn resident(&self, atena_number: &AtenaNumber) -> Option<&Resident> {
        self.find(|r| &r.atena_number == atena_number)
    }

    /// The household with this 世帯番号.
    pub fn household(&self, household_number: &HouseholdNumber) -> Option<&Household> {
        self.households.iter().find(|h| &h.household_number == household_number)
    }

    /// The person standing for `case`; `None` only in a population smaller than
    /// [`HardCase::MIN_POPULATION`].
    pub fn hard_case(&self, case: HardCase) -> Option<&Resident> {
        self.resident(&case.atena_number())
    }
}

/// A small, fast, well-mixed generator (splitmix64). Self-contained so the population does not
/// change when a dependency's algorithm does.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift, which has no modulo bias worth the name at these sizes).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u32, high: u32) -> u32 {
        low + self.below(u64::from(high - low) + 1) as u32
    }

    pub(crate) fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A name or reading from the tables below: (written form, reading in katakana).
type Name = (&'static str, &'static str);

/// A person before numbers are assigned.
#[derive(Debug, Clone)]
struct Draft {
    family: Name,
    given: Name,
    sex: Sex,
    birth: Date,
    relationship: Relationship,
    nationality: Nationality,
    alias: Option<Name>,
    former_surname: Option<Name>,
}

impl Draft {
    fn japanese(family: Name, given: Name, sex: Sex, birth: Date, relationship: Relationship) -> Self {
        Draft {
            family,
            given,
            sex,
            birth,
            relationship,
            nationality: Nationality::Japanese,
            alias: None,
            former_surname: None,
        }
    }

    /// A foreign resident: the registered name (Latin letters) goes in the family name, as the
    /// record holds it; the given name stays empty.
    fn foreign(
        name: Name,
        sex: Sex,
        birth: Date,
        relationship: Relationship,
        country: &str,
        status: Option<&str>,
    ) -> Self {
        Draft {
            family: name,
            given: ("", ""),
            sex,
            birth,
            relationship,
            nationality: Nationality::Foreign {
                country: country.to_owned(),
                residence_status: status.map(str::to_owned),
            },
            alias: None,
            former_surname: None,
        }
    }
}

/// A household before numbers are assigned.
#[derive(Debug, Clone)]
struct DraftHousehold {
    address: Option<Address>,
    members: Vec<Draft>,
}

struct Generator {
    rng: SplitMix64,
    seed: u64,
    reference: Date,
    remaining: usize,
    next_atena: u64,
    next_household: u64,
    /// Steps through the ages 0..=18 so that every school age appears once nineteen children
    /// have been drawn, whatever the seed.
    child_age_step: u32,
    households: Vec<Household>,
}

impl Generator {
    fn new(residents: usize, seed: u64) -> Self {
        Generator {
            rng: SplitMix64(seed),
            seed,
            reference: reference_date(),
            remaining: residents,
            next_atena: 1,
            next_household: 1,
            child_age_step: 0,
            households: Vec::with_capacity(residents / 2 + 1),
        }
    }

    fn push(&mut self, mut draft: DraftHousehold) {
        draft.members.truncate(self.remaining);
        if draft.members.is_empty() {
            return;
        }
        self.remaining -= draft.members.len();
        let household_number = HouseholdNumber::from_serial(self.next_household, NUMBER_WIDTH)
            .expect("household serials stay far below ten digits");
        self.next_household += 1;
        let members = draft
            .members
            .into_iter()
            .map(|person| self.resident(person, &household_number, draft.address.as_ref()))
            .collect();
        self.households.push(Household { household_number, members });
    }

    fn resident(
        &mut self,
        person: Draft,
        household_number: &HouseholdNumber,
        address: Option<&Address>,
    ) -> Resident {
        let serial = self.next_atena;
        self.next_atena += 1;
        let reading = |text: &str| (!text.is_empty()).then(|| kana(text));
        let with_kana = |(name, text): Name| NameWithKana { name: moji(name), kana: reading(text) };
        let name = PersonName {
            family: moji(person.family.0),
            given: moji(person.given.0),
            family_kana: reading(person.family.1),
            given_kana: reading(person.given.1),
            alias: person.alias.map(with_kana),
            former_surname: person.former_surname.map(with_kana),
        };
        // Many were born here; the rest moved in at some point between birth and the reference day.
        let lived_days = days_between(person.birth, self.reference);
        let resident_since = if self.rng.percent(40) {
            person.birth
        } else {
            add_days(person.birth, self.rng.below(lived_days + 1))
        };
        Resident {
            atena_number: AtenaNumber::from_serial(serial, NUMBER_WIDTH)
                .expect("resident serials stay far below ten digits"),
            individual_number: Some(individual_number(serial, self.seed)),
            household_number: household_number.clone(),
            name,
            birth_date: person.birth,
            sex: person.sex,
            relationship: person.relationship,
            address: address.cloned(),
            nationality: person.nationality,
            status: ResidentStatus::Resident,
            resident_since: Some(resident_since),
        }
    }

    /// A birth date that makes the person exactly `age` on the reference day.
    fn birth_for_age(&mut self, age: u32) -> Date {
        let anniversary =
            Date::from_ymd(self.reference.year() - age as i32, self.reference.month(), self.reference.day())
                .expect("the reference day (1 April) exists in every year");
        // Up to 364 days before the anniversary keeps the completed years at `age`.
        subtract_days(anniversary, self.rng.below(365))
    }

    fn next_child_age(&mut self) -> u32 {
        // A step of 7 is coprime to 19, so nineteen steps visit every age, and siblings drawn in a
        // row are a few years apart rather than one.
        let age = (self.child_age_step * 7) % 19;
        self.child_age_step += 1;
        age
    }

    fn given_name(&mut self, sex: Sex, birth: Date) -> Name {
        let pool = match (sex, birth.year()) {
            (Sex::Female, ..1960) => GIVEN_FEMALE_OLDER,
            (Sex::Female, 1960..2000) => GIVEN_FEMALE_MIDDLE,
            (Sex::Female, _) => GIVEN_FEMALE_YOUNG,
            (_, ..1960) => GIVEN_MALE_OLDER,
            (_, 1960..2000) => GIVEN_MALE_MIDDLE,
            _ => GIVEN_MALE_YOUNG,
        };
        self.rng.pick(pool)
    }

    fn person(&mut self, family: Name, sex: Sex, age: u32, relationship: Relationship) -> Draft {
        let birth = self.birth_for_age(age);
        let given = self.given_name(sex, birth);
        Draft::japanese(family, given, sex, birth, relationship)
    }

    fn family_name(&mut self) -> Name {
        self.rng.pick(FAMILY_NAMES)
    }

    /// A married spouse takes the head's surname; a few have their 旧氏 recorded.
    fn spouse(&mut self, family: Name, head_sex: Sex, head_age: u32) -> Draft {
        let (sex, kin) =
            if head_sex == Sex::Male { (Sex::Female, Kin::Wife) } else { (Sex::Male, Kin::Husband) };
        let age = (head_age as i32 + self.rng.between(0, 8) as i32 - 4).max(20) as u32;
        let mut spouse = self.person(family, sex, age, Relationship::Kin(vec![kin]));
        if sex == Sex::Female && self.rng.percent(4) {
            let former = self.family_name();
            if former != family {
                spouse.former_surname = Some(former);
            }
        }
        spouse
    }

    fn address(&mut self) -> Address {
        let katagaki = self.rng.percent(40).then(|| {
            (
                self.rng.below(BUILDINGS.len() as u64) as usize,
                self.rng.between(1, 8) * 100 + self.rng.between(1, 12),
            )
        });
        make_address(
            self.rng.below(WARDS.len() as u64) as usize,
            self.rng.below(TOWNS.len() as u64) as usize,
            self.rng.below(5) as usize,
            self.rng.between(1, 30),
            self.rng.between(1, 25),
            katagaki,
        )
    }

    fn random_household(&mut self) -> DraftHousehold {
        // Shares loosely follow the census: a third of households are one person, many of them old.
        let members = match self.rng.below(100) {
            0..24 => self.single(20, 64),
            24..38 => {
                if self.rng.percent(60) {
                    self.single(75, 100)
                } else {
                    self.single(65, 74)
                }
            }
            38..46 => self.couple(22, 64),
            46..58 => self.couple(65, 92),
            58..80 => self.couple_with_children(),
            80..88 => self.single_parent(),
            88..94 => self.three_generations(),
            94..97 => self.foreign_household(),
            _ => self.other_household(),
        };
        DraftHousehold { address: Some(self.address()), members }
    }

    fn head_sex(&mut self, male_percent: u64) -> Sex {
        if self.rng.percent(male_percent) { Sex::Male } else { Sex::Female }
    }

    fn single(&mut self, min_age: u32, max_age: u32) -> Vec<Draft> {
        let family = self.family_name();
        let sex = self.head_sex(50);
        let age = self.rng.between(min_age, max_age);
        vec![self.person(family, sex, age, Relationship::Head)]
    }

    fn couple(&mut self, min_age: u32, max_age: u32) -> Vec<Draft> {
        let family = self.family_name();
        let sex = self.head_sex(85);
        let age = self.rng.between(min_age, max_age);
        let head = self.person(family, sex, age, Relationship::Head);
        let spouse = self.spouse(family, sex, age);
        vec![head, spouse]
    }

    fn children(&mut self, family: Name, count: usize, relationship: &Relationship) -> Vec<Draft> {
        let mut ages: Vec<u32> = (0..count).map(|_| self.next_child_age()).collect();
        ages.sort_unstable_by(|a, b| b.cmp(a));
        ages.into_iter()
            .map(|age| {
                let sex = self.head_sex(51);
                self.person(family, sex, age, relationship.clone())
            })
            .collect()
    }

    fn child_count(&mut self) -> usize {
        match self.rng.below(100) {
            0..40 => 1,
            40..85 => 2,
            _ => 3,
        }
    }

    fn couple_with_children(&mut self) -> Vec<Draft> {
        let family = self.family_name();
        let sex = self.head_sex(85);
        let count = self.child_count();
        let mut children = if self.rng.percent(15) {
            // Grown children still living at home; their ages do not count towards school ages.
            (0..count)
                .map(|_| {
                    let age = self.rng.between(19, 29);
                    let sex = self.head_sex(50);
                    self.person(family, sex, age, Relationship::child())
                })
                .collect()
        } else {
            self.children(family, count, &Relationship::child())
        };
        let eldest = children.iter().map(|c| c.birth.age_on(self.reference)).max().unwrap_or(0);
        let head_age = (eldest + self.rng.between(24, 38)).min(70);
        let head = self.person(family, sex, head_age, Relationship::Head);
        let spouse = self.spouse(family, sex, head_age);
        let mut members = vec![head, spouse];
        members.append(&mut children);
        members
    }

    fn single_parent(&mut self) -> Vec<Draft> {
        let family = self.family_name();
        let sex = self.head_sex(15);
        let count = self.child_count().min(2);
        let mut children = self.children(family, count, &Relationship::child());
        let eldest = children.iter().map(|c| c.birth.age_on(self.reference)).max().unwrap_or(0);
        let age = (eldest + self.rng.between(22, 36)).min(60);
        let mut members = vec![self.person(family, sex, age, Relationship::Head)];
        members.append(&mut children);
        members
    }

    fn three_generations(&mut self) -> Vec<Draft> {
        let family = self.family_name();
        if self.rng.percent(50) {
            // A middle-aged head who took in a parent or both.
            let count = self.child_count();
            let mut children = self.children(family, count, &Relationship::child());
            let eldest = children.iter().map(|c| c.birth.age_on(self.reference)).max().unwrap_or(0);
            let head_age = (eldest + self.rng.between(26, 36)).min(60);
            let head = self.person(family, Sex::Male, head_age, Relationship::Head);
            let spouse = self.spouse(family, Sex::Male, head_age);
            let mut members = vec![head, spouse];
            members.append(&mut children);
            let parents_age = head_age + self.rng.between(25, 32);
            if self.rng.percent(60) {
                members.push(self.person(
                    family,
                    Sex::Male,
                    parents_age + 2,
                    Relationship::Kin(vec![Kin::Father]),
                ));
            }
            members.push(self.person(family, Sex::Female, parents_age, Relationship::Kin(vec![Kin::Mother])));
            members
        } else {
            // An older head with a married child and grandchildren: 子, 子の妻, 子の子.
            let count = self.child_count().min(2);
            let mut grandchildren =
                self.children(family, count, &Relationship::Kin(vec![Kin::Child, Kin::Child]));
            let eldest = grandchildren.iter().map(|c| c.birth.age_on(self.reference)).max().unwrap_or(0);
            let son_age = (eldest + self.rng.between(26, 36)).min(58);
            let head_age = son_age + self.rng.between(25, 32);
            let head = self.person(family, Sex::Male, head_age, Relationship::Head);
            let spouse = self.spouse(family, Sex::Male, head_age);
            let son = self.person(family, Sex::Male, son_age, Relationship::child());
            let daughter_in_law = self.person(
                family,
                Sex::Female,
                son_age.saturating_sub(2).max(20),
                Relationship::Kin(vec![Kin::Child, Kin::Wife]),
            );
            let mut members = vec![head, spouse, son, daughter_in_law];
            members.append(&mut grandchildren);
            members
        }
    }

    fn foreign_household(&mut self) -> Vec<Draft> {
        let profile = self.rng.pick(FOREIGN_PROFILES);
        let status = Some(self.rng.pick(profile.statuses));
        let head_age = self.rng.between(20, 60);
        let head_birth = self.birth_for_age(head_age);
        let mut head = Draft::foreign(
            self.rng.pick(profile.male),
            Sex::Male,
            head_birth,
            Relationship::Head,
            profile.country,
            status,
        );
        if !profile.aliases.is_empty() && self.rng.percent(30) {
            head.alias = Some(self.rng.pick(profile.aliases));
        }
        let mut members = vec![head];
        if self.rng.percent(40) {
            let spouse_age = (head_age + self.rng.between(0, 6)).saturating_sub(3).max(20);
            let birth = self.birth_for_age(spouse_age);
            let spouse_status = if profile.statuses.contains(&"PR") { "SP" } else { "DEP" };
            members.push(Draft::foreign(
                self.rng.pick(profile.female),
                Sex::Female,
                birth,
                Relationship::Kin(vec![Kin::Wife]),
                profile.country,
                Some(spouse_status),
            ));
            if head_age >= 25 && self.rng.percent(40) {
                let age = self.next_child_age().min(head_age - 20);
                let birth = self.birth_for_age(age);
                let sex = self.head_sex(50);
                let name = if sex == Sex::Male {
                    self.rng.pick(profile.male)
                } else {
                    self.rng.pick(profile.female)
                };
                members.push(Draft::foreign(
                    name,
                    sex,
                    birth,
                    Relationship::child(),
                    profile.country,
                    Some("DEP"),
                ));
            }
        }
        members
    }

    fn other_household(&mut self) -> Vec<Draft> {
        let family = self.family_name();
        match self.rng.below(4) {
            0 => {
                // Siblings sharing a home.
                let age = self.rng.between(35, 70);
                let head = self.person(family, Sex::Female, age, Relationship::Head);
                let sister =
                    self.person(family, Sex::Female, age - 3, Relationship::Kin(vec![Kin::YoungerSister]));
                vec![head, sister]
            }
            1 => {
                // An unregistered marriage: the partner keeps her own surname.
                let age = self.rng.between(25, 60);
                let head = self.person(family, Sex::Male, age, Relationship::Head);
                let partner_family = self.family_name();
                let partner = self.person(
                    partner_family,
                    Sex::Female,
                    age,
                    Relationship::Kin(vec![Kin::WifeUnregistered]),
                );
                vec![head, partner]
            }
            2 => {
                let age = self.rng.between(70, 90);
                let head = self.person(family, Sex::Female, age, Relationship::Head);
                let relative_family = self.family_name();
                let relative = self.person(relative_family, Sex::Female, age - 20, Relationship::Relative);
                vec![head, relative]
            }
            _ => {
                let age = self.rng.between(22, 40);
                let head = self.person(family, Sex::Male, age, Relationship::Head);
                let lodger_family = self.family_name();
                let lodger = self.person(lodger_family, Sex::Male, age, Relationship::Lodger);
                vec![head, lodger]
            }
        }
    }
}

/// A valid, unique individual number for each serial. `(serial × A + B) mod 10¹¹` with A coprime
/// to 10 is a bijection on eleven-digit strings, so distinct serials never collide; the seed
/// shifts B so that populations with different seeds do not share numbers position by position.
fn individual_number(serial: u64, seed: u64) -> IndividualNumber {
    const MODULUS: u128 = 100_000_000_000;
    const MULTIPLIER: u128 = 73_939_133;
    let offset = u128::from(SplitMix64(seed ^ 0x6B6F_6A69_6E5F_6E6F).next_u64()) % MODULUS;
    let first_eleven = (u128::from(serial) * MULTIPLIER + offset) % MODULUS;
    IndividualNumber::from_first_eleven(&format!("{first_eleven:011}")).expect("eleven digits")
}

fn moji(text: &str) -> MojiText {
    MojiText::new(text).expect("table text has no control characters")
}

fn kana(reading: &str) -> KanaText {
    KanaText::parse(reading).expect("table readings are katakana")
}

fn date(year: i32, month: u32, day: u32) -> Date {
    Date::from_ymd(year, month, day).expect("a valid constant date")
}

fn days_between(from: Date, to: Date) -> u64 {
    (to.naive() - from.naive()).num_days().max(0) as u64
}

fn add_days(date: Date, days: u64) -> Date {
    date.naive().checked_add_days(chrono::Days::new(days)).map(Date::from).unwrap_or(date)
}

fn subtract_days(date: Date, days: u64) -> Date {
    date.naive().checked_sub_days(chrono::Days::new(days)).map(Date::from).unwrap_or(date)
}

/// A ward of 横浜市: name, 地方公共団体コード, and the first three digits of its postal codes.
struct Ward {
    name: &'static str,
    code: &'static str,
    postal_prefix: &'static str,
}

const PREFECTURE: &str = "神奈川県";

const WARDS: [Ward; 4] = [
    Ward { name: "横浜市鶴見区", code: "141011", postal_prefix: "230" },
    Ward { name: "横浜市神奈川区", code: "141020", postal_prefix: "221" },
    Ward { name: "横浜市西区", code: "141038", postal_prefix: "220" },
    Ward { name: "横浜市中区", code: "141046", postal_prefix: "231" },
];

/// Invented 町字; each takes 一丁目 to 五丁目.
const TOWNS: [&str; 12] = [
    "桜町",
    "若葉町",
    "緑ケ丘",
    "青葉台",
    "汐見町",
    "旭町",
    "松風町",
    "梅が丘",
    "富士見町",
    "栄町",
    "白百合台",
    "柳川町",
];

const CHOME: [&str; 5] = ["一丁目", "二丁目", "三丁目", "四丁目", "五丁目"];

const BUILDINGS: [&str; 8] = [
    "サクラハイツ",
    "コーポ若葉",
    "メゾン緑ケ丘",
    "グリーンヒル汐見",
    "パークサイド旭",
    "ハイム松風",
    "レジデンス梅が丘",
    "シティコート栄",
];

/// An address in `WARDS[ward]`, `TOWNS[town]` + `CHOME[chome]`, `{ban}番{go}号`, and optionally a
/// building and room number as 方書. The postal code is fixed per ward, town and 丁目.
fn make_address(
    ward: usize,
    town: usize,
    chome: usize,
    ban: u32,
    go: u32,
    katagaki: Option<(usize, u32)>,
) -> Address {
    let w = &WARDS[ward];
    Address {
        prefecture: moji(PREFECTURE),
        municipality: moji(w.name),
        local_government_code: LocalGovernmentCode::parse(w.code)
            .expect("constant codes pass their check digit"),
        town: moji(&format!("{}{}", TOWNS[town], CHOME[chome])),
        banchi: moji(&format!("{ban}番{go}号")),
        katagaki: katagaki.map(|(building, room)| moji(&format!("{}{room}", BUILDINGS[building]))),
        postal_code: Some(
            PostalCode::parse(&format!("{}{:02}{}0", w.postal_prefix, town + 1, chome + 1))
                .expect("three + two + one + one digits"),
        ),
    }
}

fn rel(text: &str) -> Relationship {
    text.parse().expect("constant 続柄")
}

/// The hard cases, the same for every seed. Their order fixes the serials in [`HardCase::serial`].
fn fixed_households() -> Vec<DraftHousehold> {
    use Sex::{Female as F, Male as M};
    let kasai = ("葛\u{E0100}西", "カサイ");
    let takahashi = ("髙橋", "タカハシ");
    let yamasaki = ("山﨑", "ヤマザキ");
    let tsujimoto = ("\u{F0101}本", "ツジモト");
    let ono = ("大野", "オオノ");
    let ishida = ("石田", "イシダ");
    let j = Draft::japanese;

    let mut yumi = j(yamasaki, ("由美", "ユミ"), F, date(1986, 11, 3), rel("妻"));
    yumi.former_surname = Some(("伊藤", "イトウ"));

    let mut kim = Draft::foreign(
        ("KIM MINJUN", "キム　ミンジュン"),
        M,
        date(1980, 2, 14),
        rel("世帯主"),
        "KR",
        Some("PR"),
    );
    kim.alias = Some(("金本\u{3000}民俊", "カネモト\u{3000}タミトシ"));
    let mut park =
        Draft::foreign(("PARK YOUNGHO", "パク　ヨンホ"), M, date(1958, 10, 10), rel("世帯主"), "KR", None);
    park.alias = Some(("新井\u{3000}英浩", "アライ\u{3000}ヒデヒロ"));

    vec![
        // 1–4
        DraftHousehold {
            address: Some(make_address(3, 0, 0, 3, 12, Some((0, 101)))),
            members: vec![
                j(kasai, ("太郎", "タロウ"), M, date(1989, 1, 8), rel("世帯主")),
                j(kasai, ("美咲", "ミサキ"), F, date(1989, 1, 7), rel("妻")),
                j(kasai, ("陽向", "ヒナタ"), M, date(2019, 5, 1), rel("子")),
                j(kasai, ("結衣", "ユイ"), F, date(2022, 8, 15), rel("子")),
            ],
        },
        // 5
        DraftHousehold {
            address: Some(make_address(2, 1, 1, 7, 1, None)),
            members: vec![j(takahashi, ("ハル", "ハル"), F, date(1926, 12, 25), rel("世帯主"))],
        },
        // 6–8
        DraftHousehold {
            address: Some(make_address(1, 2, 2, 15, 4, Some((2, 305)))),
            members: vec![
                j(yamasaki, ("健二", "ケンジ"), M, date(1984, 6, 12), rel("世帯主")),
                yumi,
                j(yamasaki, ("蓮", "レン"), M, date(2019, 4, 30), rel("子")),
            ],
        },
        // 9
        DraftHousehold {
            address: Some(make_address(0, 4, 0, 22, 8, None)),
            members: vec![j(tsujimoto, ("誠", "マコト"), M, date(1972, 9, 30), rel("世帯主"))],
        },
        // 10–11
        DraftHousehold {
            address: Some(make_address(3, 5, 1, 4, 6, Some((4, 702)))),
            members: vec![
                kim,
                Draft::foreign(
                    ("LEE SOYEON", "イ　ソヨン"),
                    F,
                    date(1982, 7, 21),
                    rel("妻"),
                    "KR",
                    Some("SP"),
                ),
            ],
        },
        // 12
        DraftHousehold {
            address: Some(make_address(0, 9, 3, 11, 2, Some((5, 203)))),
            members: vec![Draft::foreign(
                ("NGUYEN VAN AN", "グエン　ヴァン　アン"),
                M,
                date(2001, 3, 5),
                rel("世帯主"),
                "VN",
                Some("TIT"),
            )],
        },
        // 13
        DraftHousehold { address: Some(make_address(2, 6, 0, 9, 14, None)), members: vec![park] },
        // 14: 住所不定
        DraftHousehold {
            address: None,
            members: vec![j(("田村", "タムラ"), ("修", "オサム"), M, date(1966, 5, 20), rel("世帯主"))],
        },
        // 15–24
        DraftHousehold {
            address: Some(make_address(1, 8, 0, 9, 3, None)),
            members: vec![
                j(ono, ("浩", "ヒロシ"), M, date(1980, 5, 10), rel("世帯主")),
                j(ono, ("真由美", "マユミ"), F, date(1982, 9, 2), rel("妻")),
                j(ono, ("大翔", "ヒロト"), M, date(2009, 6, 18), rel("子")),
                j(ono, ("葵", "アオイ"), F, date(2012, 1, 30), rel("子")),
                j(ono, ("颯太", "ソウタ"), M, date(2014, 10, 7), rel("子")),
                // Born on 2 April: the first birthday of a school year.
                j(ono, ("紬", "ツムギ"), F, date(2017, 4, 2), rel("子")),
                j(ono, ("律", "リツ"), M, date(2024, 12, 24), rel("子")),
                j(ono, ("勇", "イサム"), M, date(1950, 3, 3), rel("父")),
                j(ono, ("静子", "シズコ"), F, date(1953, 8, 19), rel("母")),
                // Born on 29 February.
                j(ono, ("千尋", "チヒロ"), F, date(1988, 2, 29), rel("妹")),
            ],
        },
        // 25–30
        DraftHousehold {
            address: Some(make_address(3, 7, 4, 18, 5, None)),
            members: vec![
                j(ishida, ("茂", "シゲル"), M, date(1948, 11, 23), rel("世帯主")),
                j(ishida, ("和子", "カズコ"), F, date(1951, 1, 15), rel("妻")),
                j(ishida, ("直樹", "ナオキ"), M, date(1977, 7, 7), rel("子")),
                j(ishida, ("香織", "カオリ"), F, date(1979, 12, 1), rel("子の妻")),
                j(ishida, ("湊", "ミナト"), M, date(2013, 5, 5), rel("子の子")),
                // Born on 31 March: the last birthday of a school year.
                j(ishida, ("陽葵", "ヒマリ"), F, date(2020, 3, 31), rel("子の子")),
            ],
        },
    ]
}

/// Common surnames, a few in their variant forms (髙, 﨑, 邊, 齋, 濱) as registries hold them.
const FAMILY_NAMES: &[Name] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("遠藤", "エンドウ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("福田", "フクダ"),
    ("太田", "オオタ"),
    ("西村", "ニシムラ"),
    ("藤井", "フジイ"),
    ("金子", "カネコ"),
    ("岡本", "オカモト"),
    ("藤原", "フジワラ"),
    ("中野", "ナカノ"),
    ("三浦", "ミウラ"),
    ("原田", "ハラダ"),
    ("松田", "マツダ"),
    ("竹内", "タケウチ"),
    ("小野", "オノ"),
    ("中山", "ナカヤマ"),
    ("和田", "ワダ"),
    ("森田", "モリタ"),
    ("上田", "ウエダ"),
    ("柴田", "シバタ"),
    ("酒井", "サカイ"),
    ("工藤", "クドウ"),
    ("横山", "ヨコヤマ"),
    ("宮本", "ミヤモト"),
    ("内田", "ウチダ"),
    ("安藤", "アンドウ"),
    ("渡邊", "ワタナベ"),
    ("齋藤", "サイトウ"),
    ("濱田", "ハマダ"),
    ("髙木", "タカギ"),
    ("宮﨑", "ミヤザキ"),
];

const GIVEN_MALE_OLDER: &[Name] = &[
    ("清", "キヨシ"),
    ("茂", "シゲル"),
    ("勇", "イサム"),
    ("博", "ヒロシ"),
    ("実", "ミノル"),
    ("進", "ススム"),
    ("正", "タダシ"),
    ("昭", "アキラ"),
    ("和夫", "カズオ"),
    ("正夫", "マサオ"),
    ("幸雄", "ユキオ"),
    ("勝", "マサル"),
    ("隆", "タカシ"),
    ("武", "タケシ"),
];

const GIVEN_FEMALE_OLDER: &[Name] = &[
    ("和子", "カズコ"),
    ("幸子", "サチコ"),
    ("節子", "セツコ"),
    ("洋子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("京子", "キョウコ"),
    ("久子", "ヒサコ"),
    ("美智子", "ミチコ"),
    ("文子", "フミコ"),
    ("キヨ", "キヨ"),
    ("トシ", "トシ"),
    ("悦子", "エツコ"),
    ("静子", "シズコ"),
];

const GIVEN_MALE_MIDDLE: &[Name] = &[
    ("誠", "マコト"),
    ("大輔", "ダイスケ"),
    ("健一", "ケンイチ"),
    ("浩", "ヒロシ"),
    ("拓也", "タクヤ"),
    ("直樹", "ナオキ"),
    ("翔太", "ショウタ"),
    ("和也", "カズヤ"),
    ("達也", "タツヤ"),
    ("健太", "ケンタ"),
    ("哲也", "テツヤ"),
    ("剛", "ツヨシ"),
    ("亮", "リョウ"),
    ("雄一", "ユウイチ"),
];

const GIVEN_FEMALE_MIDDLE: &[Name] = &[
    ("裕子", "ユウコ"),
    ("直美", "ナオミ"),
    ("由美", "ユミ"),
    ("智子", "トモコ"),
    ("恵", "メグミ"),
    ("久美子", "クミコ"),
    ("陽子", "ヨウコ"),
    ("真由美", "マユミ"),
    ("愛", "アイ"),
    ("彩", "アヤ"),
    ("美穂", "ミホ"),
    ("麻衣", "マイ"),
    ("千尋", "チヒロ"),
    ("香織", "カオリ"),
];

const GIVEN_MALE_YOUNG: &[Name] = &[
    ("蓮", "レン"),
    ("陽翔", "ハルト"),
    ("湊", "ミナト"),
    ("悠真", "ユウマ"),
    ("大翔", "ヒロト"),
    ("颯太", "ソウタ"),
    ("樹", "イツキ"),
    ("陽向", "ヒナタ"),
    ("蒼", "アオイ"),
    ("律", "リツ"),
    ("朝陽", "アサヒ"),
    ("悠人", "ユウト"),
    ("奏太", "カナタ"),
];

const GIVEN_FEMALE_YOUNG: &[Name] = &[
    ("陽葵", "ヒマリ"),
    ("凛", "リン"),
    ("結菜", "ユイナ"),
    ("芽依", "メイ"),
    ("葵", "アオイ"),
    ("紬", "ツムギ"),
    ("結衣", "ユイ"),
    ("咲良", "サクラ"),
    ("さくら", "サクラ"),
    ("美桜", "ミオ"),
    ("杏", "アン"),
    ("澪", "ミオ"),
    ("楓", "カエデ"),
    ("心春", "コハル"),
];

/// Names, statuses and 通称 for one nationality of foreign residents.
#[derive(Clone, Copy)]
struct ForeignProfile {
    country: &'static str,
    statuses: &'static [&'static str],
    male: &'static [Name],
    female: &'static [Name],
    aliases: &'static [Name],
}

const FOREIGN_PROFILES: &[ForeignProfile] = &[
    ForeignProfile {
        country: "KR",
        statuses: &["PR", "ENG", "SJ"],
        male: &[("LEE JIHOON", "イ　ジフン"), ("CHOI DONGHYUN", "チェ　ドンヒョン")],
        female: &[("PARK SEOYEON", "パク　ソヨン"), ("KANG YUNA", "カン　ユナ")],
        aliases: &[
            ("松山\u{3000}一郎", "マツヤマ\u{3000}イチロウ"),
            ("岩本\u{3000}秀明", "イワモト\u{3000}ヒデアキ"),
        ],
    },
    ForeignProfile {
        country: "CN",
        statuses: &["ENG", "PR", "STU"],
        male: &[("WANG HAORAN", "ワン　ハオラン"), ("ZHANG WEI", "チャン　ウェイ")],
        female: &[("LIU FANG", "リウ　ファン"), ("CHEN JING", "チェン　ジン")],
        aliases: &[("王\u{3000}浩然", "オウ\u{3000}コウゼン")],
    },
    ForeignProfile {
        country: "VN",
        statuses: &["TIT", "SSW", "ENG", "STU"],
        male: &[("TRAN MINH DUC", "チャン　ミン　ドゥック"), ("PHAM QUOC BAO", "ファム　クオック　バオ")],
        female: &[("NGUYEN THI HOA", "グエン　ティ　ホア"), ("LE THI MAI", "レ　ティ　マイ")],
        aliases: &[],
    },
    ForeignProfile {
        country: "PH",
        statuses: &["SJ", "LTR", "PR"],
        male: &[("SANTOS JOSE MIGUEL", "サントス　ホセ　ミゲル")],
        female: &[("REYES MARIA CLARA", "レイエス　マリア　クララ")],
        aliases: &[],
    },
    ForeignProfile {
        country: "BR",
        statuses: &["LTR", "PR"],
        male: &[("SILVA PEDRO HENRIQUE", "シルバ　ペドロ　エンリケ")],
        female: &[("OLIVEIRA ANA LUIZA", "オリベイラ　アナ　ルイザ")],
        aliases: &[],
    },
    ForeignProfile {
        country: "NP",
        statuses: &["STU", "ENG"],
        male: &[("GURUNG BIKASH", "グルン　ビカシュ")],
        female: &[("TAMANG SITA", "タマン　シタ")],
        aliases: &[],
    },
    ForeignProfile {
        country: "US",
        statuses: &["ENG", "SJ"],
        male: &[("MILLER JAMES ROBERT", "ミラー　ジェームズ　ロバート")],
        female: &[("DAVIS EMILY ROSE", "デイビス　エミリー　ローズ")],
        aliases: &[],
    },
];

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use renkei_model::is_private_use;

    use super::*;

    #[test]
    fn ten_thousand_residents_all_valid_with_unique_numbers() {
        let population = Population::generate(10_000, 42);
        assert_eq!(population.len(), 10_000);
        assert_eq!(population.residents().count(), 10_000);

        let mut atena = HashSet::new();
        let mut individual = HashSet::new();
        let mut households = HashSet::new();
        for household in population.households() {
            household.validate().unwrap_or_else(|e| panic!("{}: {e}", household.household_number));
            assert_eq!(household.household_number.as_str().len(), NUMBER_WIDTH);
            assert!(households.insert(household.household_number.clone()));
            assert_eq!(household.members[0].relationship, Relationship::Head, "head first");
            for r in &household.members {
                r.validate().unwrap_or_else(|e| panic!("{}: {e}", r.atena_number));
                assert_eq!(r.atena_number.as_str().len(), NUMBER_WIDTH);
                assert!(atena.insert(r.atena_number.clone()), "duplicate {}", r.atena_number);
                let number = r.individual_number.as_ref().expect("every resident has one");
                assert!(IndividualNumber::parse(number.expose()).is_ok());
                assert!(individual.insert(number.expose().to_owned()), "duplicate individual number");
                if let Some(address) = &r.address {
                    assert!(LocalGovernmentCode::parse(address.local_government_code.as_str()).is_ok());
                    assert_eq!(address.postal_code.as_ref().map(|p| p.as_str().len()), Some(7));
                }
                if !r.is_foreign() {
                    assert!(
                        r.name.family_kana.is_some() && r.name.given_kana.is_some(),
                        "{}",
                        r.atena_number
                    );
                }
                assert!(r.birth_date <= reference_date());
            }
        }
        for case in HardCase::ALL {
            assert!(population.hard_case(case).is_some(), "{case:?}");
        }
    }

    #[test]
    fn generation_is_deterministic_and_seeded() {
        let a = Population::generate(2_000, 7);
        let b = Population::generate(2_000, 7);
        assert_eq!(a, b);
        let numbers = |p: &Population| -> Vec<String> {
            p.residents()
                .map(|r| r.individual_number.as_ref().map(|n| n.expose().to_owned()).unwrap_or_default())
                .collect()
        };
        assert_eq!(numbers(&a), numbers(&b));

        let c = Population::generate(2_000, 8);
        assert_ne!(a, c, "a different seed gives a different population");
        // The hard cases do not depend on the seed.
        for case in HardCase::ALL {
            let (x, y) = (a.hard_case(case).unwrap(), c.hard_case(case).unwrap());
            assert_eq!((&x.name, x.birth_date, &x.address), (&y.name, y.birth_date, &y.address), "{case:?}");
        }
    }

    #[test]
    fn exact_sizes_including_tiny_ones() {
        for n in [0, 1, 3, 4, 5, 29, 30, 31, 100, 101, 997] {
            let p = Population::generate(n, 1);
            assert_eq!(p.len(), n);
            assert_eq!(p.residents().count(), n);
            assert_eq!(p.is_empty(), n == 0);
            for h in p.households() {
                h.validate().unwrap();
            }
        }
        let small = Population::generate(HardCase::MIN_POPULATION - 1, 1);
        assert!(small.hard_case(HardCase::ThreeGenerations).is_some(), "the head is listed first");
        assert!(Population::generate(20, 1).hard_case(HardCase::ThreeGenerations).is_none());
        let full = Population::generate(HardCase::MIN_POPULATION, 1);
        assert!(HardCase::ALL.iter().all(|c| full.hard_case(*c).is_some()));
        // The fixed households end exactly at MIN_POPULATION.
        assert_eq!(full.households().len(), 10);
    }

    #[test]
    fn hard_cases_are_what_they_claim() {
        let p = Population::generate(100, 3);
        let get = |case| p.hard_case(case).unwrap();

        let kasai = get(HardCase::IvsName);
        assert_eq!(kasai.name.family.as_str(), "葛\u{E0100}西");
        assert_eq!(kasai.name.family.search_key(), "葛西");
        assert_eq!(kasai.birth_date.to_wareki_string().unwrap(), "平成元年1月8日");
        assert_eq!(kasai.atena_number.as_str(), "0000000019");

        assert_eq!(get(HardCase::ShowaLastDay).birth_date.to_wareki_string().unwrap(), "昭和64年1月7日");
        assert_eq!(get(HardCase::ReiwaFirstDay).birth_date.to_wareki_string().unwrap(), "令和元年5月1日");
        assert_eq!(get(HardCase::HeiseiLastDay).birth_date.to_wareki_string().unwrap(), "平成31年4月30日");
        assert_eq!(get(HardCase::ShowaFirstDay).birth_date.to_wareki_string().unwrap(), "昭和元年12月25日");
        assert!(get(HardCase::ShowaFirstDay).age_on(reference_date()) >= 75);

        assert!(get(HardCase::TakaVariant).name.family.as_str().contains('\u{9AD9}'));
        assert!(get(HardCase::SakiVariant).name.family.as_str().contains('\u{FA11}'));
        let former = get(HardCase::FormerSurname).name.former_surname.as_ref().unwrap();
        assert_eq!(former.name.as_str(), "伊藤");

        let pua = get(HardCase::PrivateUseName);
        assert!(pua.name.family.private_use_chars().all(|c| c >= '\u{F0000}'));
        assert_eq!(pua.name.family.private_use_chars().count(), 1);

        let kim = get(HardCase::ForeignWithAlias);
        assert_eq!(kim.name.family.as_str(), "KIM MINJUN");
        assert!(kim.name.given.is_empty());
        assert_eq!(kim.name.alias.as_ref().unwrap().name.as_str(), "金本\u{3000}民俊");
        assert_eq!(
            kim.nationality,
            Nationality::Foreign { country: "KR".into(), residence_status: Some("PR".into()) }
        );
        assert_eq!(residence_status_label("PR"), Some("永住者"));

        let nguyen = get(HardCase::ForeignWithoutAlias);
        assert!(nguyen.is_foreign() && nguyen.name.alias.is_none());
        let park = get(HardCase::SpecialPermanentResident);
        assert!(matches!(&park.nationality, Nationality::Foreign { residence_status: None, .. }));
        assert!(park.name.alias.is_some());

        assert!(get(HardCase::NoFixedAddress).address.is_none());

        let ten = p.household(&get(HardCase::HouseholdOfTen).household_number).unwrap();
        assert_eq!(ten.members.len(), 10);
        let three = p.household(&get(HardCase::ThreeGenerations).household_number).unwrap();
        let chains: Vec<String> = three.members.iter().map(|m| m.relationship.to_string()).collect();
        assert_eq!(chains, ["世帯主", "妻", "子", "子の妻", "子の子", "子の子"]);
        assert!(ten.members.iter().any(|m| m.relationship.to_string() == "父"));
        assert!(ten.members.iter().any(|m| m.relationship.to_string() == "母"));

        // Other crates' tests and docs quote these numbers: reordering the fixed households
        // breaks them.
        let quoted = [
            (HardCase::IvsName, "0000000019"),
            (HardCase::ShowaLastDay, "0000000027"),
            (HardCase::ReiwaFirstDay, "0000000035"),
            (HardCase::ShowaFirstDay, "0000000051"),
            (HardCase::TakaVariant, "0000000051"),
            (HardCase::SakiVariant, "0000000060"),
            (HardCase::FormerSurname, "0000000078"),
            (HardCase::HeiseiLastDay, "0000000086"),
            (HardCase::PrivateUseName, "0000000094"),
            (HardCase::ForeignWithAlias, "0000000108"),
            (HardCase::ForeignWithoutAlias, "0000000124"),
            (HardCase::SpecialPermanentResident, "0000000132"),
            (HardCase::NoFixedAddress, "0000000140"),
            (HardCase::HouseholdOfTen, "0000000159"),
            (HardCase::ThreeGenerations, "0000000256"),
        ];
        assert_eq!(quoted.len(), HardCase::ALL.len());
        for (case, number) in quoted {
            assert_eq!(case.atena_number().as_str(), number, "{case:?}");
            assert_eq!(get(case).atena_number, case.atena_number(), "{case:?}");
        }
        // Only the one MJ+ name holds a private-use code point.
        assert_eq!(p.residents().filter(|r| r.name.family.as_str().chars().any(is_private_use)).count(), 1);
    }

    #[test]
    fn households_look_like_a_municipality() {
        let p = Population::generate(10_000, 99);
        let today = reference_date();
        let child_ages: BTreeSet<u32> = p
            .residents()
            .filter(|r| matches!(&r.relationship, Relationship::Kin(c) if c.last() == Some(&Kin::Child)))
            .map(|r| r.age_on(today))
            .filter(|age| *age <= 18)
            .collect();
        assert_eq!(child_ages, (0..=18).collect(), "a child of every school age");

        let sizes: Vec<usize> = p.households().iter().map(|h| h.members.len()).collect();
        let singles = sizes.iter().filter(|s| **s == 1).count() as f64 / sizes.len() as f64;
        assert!((0.25..0.55).contains(&singles), "one-person share {singles}");
        assert!(sizes.iter().any(|s| *s >= 5));

        let elderly_single = |min: u32| {
            p.households()
                .iter()
                .filter(|h| h.members.len() == 1 && h.members[0].age_on(today) >= min)
                .count()
        };
        assert!(elderly_single(75) > 50);
        assert!(elderly_single(65) > elderly_single(75));
        let elderly_couples = p
            .households()
            .iter()
            .filter(|h| h.members.len() == 2 && h.members.iter().all(|m| m.age_on(today) >= 65))
            .count();
        assert!(elderly_couples > 50);

        let foreign = p.residents().filter(|r| r.is_foreign()).count();
        assert!((50..800).contains(&foreign), "{foreign} foreign residents");
        for chain in ["子の妻", "子の子", "父", "母", "妻(未届)", "縁故者", "同居人"] {
            assert!(p.residents().any(|r| r.relationship.to_string() == chain), "{chain}");
        }
        // Every ward is used and every ward's code is valid.
        let wards: BTreeSet<&str> = p
            .residents()
            .filter_map(|r| r.address.as_ref())
            .map(|a| a.local_government_code.as_str())
            .collect();
        assert_eq!(wards.len(), WARDS.len());
        assert!(p.residents().filter_map(|r| r.address.as_ref()).any(|a| a.katagaki.is_some()));
    }

    #[test]
    fn ward_codes_and_postal_codes_are_valid() {
        for w in &WARDS {
            assert!(LocalGovernmentCode::parse(w.code).is_ok(), "{}", w.name);
        }
        let a = make_address(3, 0, 0, 3, 12, Some((0, 101)));
        assert_eq!(a.one_line(), "神奈川県横浜市中区桜町一丁目3番12号\u{3000}サクラハイツ101");
        assert_eq!(a.postal_code.unwrap().as_str(), "2310110");
    }
}
